"""rejuv host agent: the one program behind the Preflight, WarmReboot, Verify, Recover and CollectAging
documents.

Runs on a virtualization host under the SSM agent (python3 standard library only, 3.8+). Every
subcommand prints exactly one JSON line on stdout; everything else goes to stderr. The host is the
directory named by REJUV_HOST_ROOT (default /): the VM inventory is <root>/etc/rejuv/vms.d/*.json,
run journals and the host lock live under <root>/var/lib/rejuv/. See host/README.md.

One concern per module; the documents' commands are preflight, warm_reboot, verify, recover and
collect_aging, the reload paths vmm_process (with handover) and kernel_reload, and __main__ the entry.
"""

# The agent's own version, reported beside the archive's SHA-256; bumped when its behaviour changes.
VERSION = "1"
