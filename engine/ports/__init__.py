"""Published ports on the host side: choosing host ports, and the one pyproxy per container
that serves them for traffic the firewall's DNAT cannot see (from the host itself, loopback)."""
