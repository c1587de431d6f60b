"""What every Codeswarm part shares: protocol, event bus, settings, auth and the node program."""
