"""Starts moto's standalone server (a real AWS-protocol server) on 127.0.0.1.

Usage: python tests/moto_server.py --port PORT

Run by scripts/moto-server.sh and by tests that need a server of their own (the
IAM-enforcement test switches authentication on, which would break every other
test sharing a server).
"""

import argparse

from moto.secretsmanager import models as secretsmanager_models
from moto.server import ThreadedMotoServer

_update_secret_version_stage = secretsmanager_models.SecretsManagerBackend.update_secret_version_stage


def _update_secret_version_stage_and_default(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
    """moto 5.2.5 bug: after UpdateSecretVersionStage moves AWSCURRENT, GetSecretValue
    without a stage and BatchGetSecretValue keep returning the old version (only a
    read with VersionStage=AWSCURRENT is right), because the secret's default version
    is not moved. Real AWS serves the version that holds AWSCURRENT; so must moto,
    or the launcher would read a stale value after a rotation."""
    result = _update_secret_version_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
    if version_stage == "AWSCURRENT" and move_to_version_id:
        self.secrets[secret_id].set_default_version_id(move_to_version_id)
    return result


secretsmanager_models.SecretsManagerBackend.update_secret_version_stage = _update_secret_version_stage_and_default


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    try:
        server._thread.join()  # serve until killed
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
