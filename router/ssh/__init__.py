"""One long-lived SSH connection per cluster (paramiko), used off the event loop."""
