"""Starts moto's standalone server (a real AWS-protocol server) on 127.0.0.1.

Usage: python tests/moto_server.py --port PORT [--ssl-cert CERT --ssl-key KEY]

Run by scripts/moto-server.sh and by tests that need a server of their own (the
IAM-enforcement test switches authentication on, which would break every other
test sharing a server).
"""

import argparse

from moto.secretsmanager import models as secretsmanager_models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

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
    parser.add_argument("--ssl-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--ssl-key", help="the certificate's private key (PEM)")
    args = parser.parse_args()
    if args.ssl_cert:
        # HTTPS, as AWS is reached: the benchmarks measure the TLS handshake too.
        app = DomainDispatcherApplication(create_backend_app)
        make_server(
            "127.0.0.1",
            args.port,
            app,
            threaded=True,
            request_handler=MotoRequestHandler,
            ssl_context=(args.ssl_cert, args.ssl_key),
        ).serve_forever()
        return
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    try:
        server._thread.join()  # serve until killed
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
