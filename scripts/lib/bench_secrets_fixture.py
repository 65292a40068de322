"""Creates the secrets the Secrets Manager launch benchmark reads, with boto3 (the
real AWS client), in one moto server: COUNT secrets for envgate (`bench/S000`...)
and the same for secretspec (`secretspec/bench/default/S000`...), 32 random
characters each. Usage: python bench_secrets_fixture.py ENDPOINT COUNT [CA_BUNDLE]"""

import secrets
import sys

import boto3

endpoint, count = sys.argv[1], int(sys.argv[2])
verify = sys.argv[3] if len(sys.argv) > 3 else True
client = boto3.client(
    "secretsmanager",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
    verify=verify,
)
for index in range(count):
    value = secrets.token_urlsafe(24)
    client.create_secret(Name=f"bench/S{index:03}", SecretString=value)
    client.create_secret(Name=f"secretspec/bench/default/S{index:03}", SecretString=value)
