"""Jobs: one function per kind of work (an image file, a video file, a batch), each
running the stages in order. The CLI, the Python API and the batch engines call these."""
