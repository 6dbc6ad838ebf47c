#!/usr/bin/python3
"""Run one Swift WSGI server with swift.conf taken from SWIFT_DIR.

usage: swift_server.py SWIFT_DIR CONF APP_SECTION

Swift reads [swift-hash], storage policies and [swift-constraints] from
/etc/swift/swift.conf when it is imported, whatever swift_dir says; the
constraints are never re-read.  Point it at our own file and reload all
three before the server starts (see shared/reference/test-peers.md).
"""
import os
import sys

from swift.common import constraints, storage_policy, utils
from swift.common.wsgi import run_wsgi


def main():
    swift_dir, conf, section = sys.argv[1:4]
    utils.SWIFT_CONF_FILE = os.path.join(swift_dir, 'swift.conf')
    utils.HASH_PATH_PREFIX = b''
    utils.HASH_PATH_SUFFIX = b''
    utils.validate_configuration()
    storage_policy.reload_storage_policies()
    constraints.reload_constraints()
    return run_wsgi(conf, section, verbose=True)


if __name__ == '__main__':
    sys.exit(main())
