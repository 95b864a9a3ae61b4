"""Where a video analysed over several invocations keeps its partial timeline (the VideoStateStore port)."""
