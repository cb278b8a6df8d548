"""The emulated account: one set of identifiers for everyone (the local twin, the tests, the benchmarks).

The network is not emulated -- SageMaker work runs as local processes -- so these IDs stand in for network.yaml's
outputs: every VpcConfig the template, the state machines and the pipeline write is complete and checkable.
"""

from __future__ import annotations

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
STACK_NAME = "abalone-mlops"
SUBNETS = ("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002")
SECURITY_GROUPS = ("sg-0a1b2c3d4e5f60001",)
