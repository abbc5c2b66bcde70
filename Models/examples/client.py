"""The example workload's client: fetch a URL and print its body (see workload.sh)."""
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
    sys.stdout.write(response.read().decode())
