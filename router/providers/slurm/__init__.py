"""The Slurm backend: jobs on a cluster reached over SSH (paramiko), one connection per cluster."""
