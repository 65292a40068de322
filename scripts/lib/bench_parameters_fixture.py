"""Creates what the Parameter Store launch benchmark reads, with boto3 (the real AWS
client), in one moto server: COUNT SecureString parameters where secretspec's
`awsps` provider looks (`/secretspec/bench/default/S000`...), which envgate reads by
the same names, and COUNT secrets (`bench/S000`...) for the launch reading both
stores. 32 random characters each.
Usage: python bench_parameters_fixture.py ENDPOINT COUNT [CA_BUNDLE]"""

import secrets
import sys

import boto3

endpoint, count = sys.argv[1], int(sys.argv[2])
verify = sys.argv[3] if len(sys.argv) > 3 else True
options = dict(
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
    verify=verify,
)
ssm = boto3.client("ssm", **options)
secretsmanager = boto3.client("secretsmanager", **options)
for index in range(count):
    ssm.put_parameter(
        Name=f"/secretspec/bench/default/S{index:03}",
        Value=secrets.token_urlsafe(24),
        Type="SecureString",
        Overwrite=True,
    )
    secretsmanager.create_secret(Name=f"bench/T{index:03}", SecretString=secrets.token_urlsafe(24))
