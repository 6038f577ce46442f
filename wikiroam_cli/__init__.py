"""`wikiroam`, the operator's command line: `wikiroam trace <trace-id>` prints one trace read from CloudWatch Logs."""
