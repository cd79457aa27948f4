"""llmfleet: the CLI around the llmfleet.baremetal Ansible collection."""

__version__ = "0.1.0"
