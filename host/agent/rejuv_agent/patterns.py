"""What a request's arguments must look like (the documents' allowedPatterns, checked again here)."""

from __future__ import annotations

import re


VM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
VM_SELECTION = re.compile(r"^(\*|[a-z0-9][a-z0-9-]{0,62}(,[a-z0-9][a-z0-9-]{0,62}){0,255})$")
# VM names, or "-" for none ("-" can never be a VM name; SSM parameters are best never empty).
VM_LIST = re.compile(r"^(-|[a-z0-9][a-z0-9-]{0,62}(,[a-z0-9][a-z0-9-]{0,62}){0,255})$")
LEVELS = ("vmm-process", "kernel")


# The host id the control plane expects, or "-" when one command goes to a fleet by tag: the host is
# then known by the instance id its SSM agent reports (AWS_SSM_INSTANCE_ID).
HOST_ID_OR_FLEET = re.compile(r"^(-|[A-Za-z0-9][A-Za-z0-9._-]{0,62})$")
