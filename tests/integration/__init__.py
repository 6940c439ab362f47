# Integration tests of cardd: the real daemon on loopback ports.
# Run: CARDD_BUILD=build /usr/bin/python3 -m unittest discover \
#          -s tests/integration -t . -v
