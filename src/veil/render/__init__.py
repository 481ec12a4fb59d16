"""Stage 3, render: mask every region of a plan and write the output file."""
