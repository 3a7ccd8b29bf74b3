"""lrla benchmarks: lrla against the peers a user would pick instead, timed side by side in one run."""
