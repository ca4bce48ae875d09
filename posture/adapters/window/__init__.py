"""The preview window: a child process that draws the picture and its scene with OpenCV
(HighGUI), fed over a pipe."""
