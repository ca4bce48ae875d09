"""`posture report` and `posture history`: periods, rendering, the HTML page."""
