"""The operation log (操作日志): append-only record of every write."""
