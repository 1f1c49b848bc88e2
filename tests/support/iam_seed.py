"""IAM on a moto server of its own, through boto3 (AWS's own client), for
tests/tenants.rs: users carrying panka's rendered tenant policy, moto's IAM
enforcement switched on and off, and direct probes with a tenant's keys.

Usage: iam_seed.py ENDPOINT COMMAND ARG
  users '<json {user: {policy name: document}}>'  -> prints {user: [key id, secret]}
  enforce 0|inf                                    -> moto checks every request from now on (0) or none (inf)
  probe '<json {"key": [id, secret], "bucket": B, "ops": [[op, key], ...]}>'
        op: get | put | delete | list (key = the prefix) -> prints [[op, key, "ok" | error code], ...]
"""

import json
import sys
import urllib.request

import boto3
import botocore.exceptions

REGION = "us-east-1"


def client(service, endpoint, key_id="testing", secret="testing"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


def users(endpoint, spec):
    iam = client("iam", endpoint)
    out = {}
    for user, policies in spec.items():
        iam.create_user(UserName=user)
        for name, document in policies.items():
            iam.put_user_policy(UserName=user, PolicyName=name, PolicyDocument=json.dumps(document))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        out[user] = [key["AccessKeyId"], key["SecretAccessKey"]]
    print(json.dumps(out))


def enforce(endpoint, count):
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request) as response:
        response.read()


def probe(endpoint, spec):
    s3 = client("s3", endpoint, *spec["key"])
    results = []
    for op, key in spec["ops"]:
        try:
            if op == "get":
                s3.get_object(Bucket=spec["bucket"], Key=key)["Body"].read()
            elif op == "put":
                s3.put_object(Bucket=spec["bucket"], Key=key, Body=b"{}")
            elif op == "delete":
                s3.delete_object(Bucket=spec["bucket"], Key=key)
            elif op == "list":
                s3.list_objects_v2(Bucket=spec["bucket"], Prefix=key)
            results.append([op, key, "ok"])
        except botocore.exceptions.ClientError as e:
            results.append([op, key, e.response["Error"]["Code"]])
    print(json.dumps(results))


def main():
    endpoint, command, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    if command == "users":
        users(endpoint, json.loads(arg))
    elif command == "enforce":
        enforce(endpoint, arg)
    elif command == "probe":
        probe(endpoint, json.loads(arg))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
