"""The `scale` console command."""
