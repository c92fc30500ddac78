"""free_ports(n): the first of n consecutive loopback TCP ports found
free now, below the kernel's ephemeral range when there is room: a port
from that range can be taken, while a node is down, as the local port of
some outgoing connection (a client reconnecting to the node itself among
them), and the node restarted on it then fails with EADDRINUSE; a port
in it can also be taken between this check and the node's bind.

Shared by the Python tests and tests/integration/lib.sh (run as a
script: prints the port)."""
import random
import socket
import sys


def free_ports(n):
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    top = low if low - n > 11000 else 60000
    for _ in range(500):
        base = random.randrange(10000, top - n)
        socks = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


if __name__ == "__main__":
    try:
        print(free_ports(int(sys.argv[1])))
    except RuntimeError as e:
        sys.exit(str(e))
