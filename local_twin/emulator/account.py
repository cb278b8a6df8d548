"""The emulated accounts: one set of identifiers for everyone (the local twin, the tests, the benchmarks).

``ACCOUNT_ID`` is the default account (moto's, where unsigned or throw-away credentials land) and, with
``make local ARGS="--accounts 3"``, the registry account; ``STAGING_ACCOUNT_ID`` and ``PRODUCTION_ACCOUNT_ID`` are the
target accounts of the three-account flow (``Emulator.client(service, account_id=...)`` reaches them through STS
AssumeRole, as a deployment pipeline reaches member accounts).

The network is not emulated -- SageMaker work runs as local processes -- so these IDs stand in for network.yaml's
outputs: every VpcConfig the template, the state machines and the pipeline write is complete and checkable.
"""

from __future__ import annotations

ACCOUNT_ID = "123456789012"  # moto's default account; the registry account of the three-account flow
STAGING_ACCOUNT_ID = "210987654321"
PRODUCTION_ACCOUNT_ID = "345678901234"
# The role assumed to act in another account: the one AWS Organizations creates in every member account it creates
# (AWS Organizations user guide, "Accessing a member account that has a management account access role").
ACCESS_ROLE_NAME = "OrganizationAccountAccessRole"
REGION = "us-east-1"
STACK_NAME = "abalone-mlops"
SUBNETS = ("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002")
SECURITY_GROUPS = ("sg-0a1b2c3d4e5f60001",)
