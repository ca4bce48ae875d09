from posture.cli import main

main()
