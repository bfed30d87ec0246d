"""The pipeline benchmark (bench/bench_pipeline.py): scenarios, child processes, results."""
