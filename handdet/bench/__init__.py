"""`handdet bench`: every speed and memory figure, measured side by side with what it is compared to."""
