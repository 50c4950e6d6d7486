"""The HTTP API: the one authenticated front door for portal backends, payment gateways, officers and auditors."""
