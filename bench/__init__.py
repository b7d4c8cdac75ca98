"""Side-by-side benchmarks of the suite against its real peers (black-box: drives binaries)."""
