"""IAM on a moto server of its own, through boto3 (AWS's own client), for
tests/tenants.rs: users carrying panka's rendered tenant policy, moto's IAM
enforcement switched on and off, and direct probes with a tenant's keys.

Usage: iam_seed.py ENDPOINT COMMAND ARG
  users '<json {user: {policy name: document}}>'  -> prints {user: [key id, secret]}
  enforce 0|inf                                    -> moto checks every request from now on (0) or none (inf)
  probe '<json {"key": [id, secret], "bucket": B, "ops": [[op, key], ...]}>'
        op: get | put | delete | list (key = the prefix) on the bucket,
            delete-queue | receive (key = a queue name) on SQS,
            delete-role (key = a role name) on IAM
        -> prints [[op, key, "ok" | error code], ...]
  deployed '<json {"queues": [name, ...], "roles": [name, ...]}>'
        -> creates them with the platform's keys (resources of tenants' stacks)
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


def deployed(endpoint, spec):
    sqs = client("sqs", endpoint)
    for name in spec.get("queues", []):
        sqs.create_queue(QueueName=name)
    iam = client("iam", endpoint)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    for name in spec.get("roles", []):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    print("{}")


def probe(endpoint, spec):
    s3 = client("s3", endpoint, *spec["key"])
    sqs = client("sqs", endpoint, *spec["key"])
    iam = client("iam", endpoint, *spec["key"])
    results = []
    for op, key in spec["ops"]:
        try:
            if op == "delete-queue":
                sqs.delete_queue(QueueUrl=f"{endpoint}/123456789012/{key}")
            elif op == "receive":
                sqs.receive_message(QueueUrl=f"{endpoint}/123456789012/{key}")
            elif op == "delete-role":
                iam.delete_role(RoleName=key)
            elif op == "get":
                s3.get_object(Bucket=spec["bucket"], Key=key)["Body"].read()
            elif op == "put":
                s3.put_object(Bucket=spec["bucket"], Key=key, Body=b"{}")
            elif op == "delete":
                s3.delete_object(Bucket=spec["bucket"], Key=key)
            elif op == "list":
                s3.list_objects_v2(Bucket=spec["bucket"], Prefix=key)
            results.append([op, key, "ok"])
        except botocore.exceptions.ClientError as e:
            code = e.response["Error"]["Code"]
            # moto's SQS answers a denial with the bare HTTP status as its code.
            if e.response["ResponseMetadata"]["HTTPStatusCode"] == 403:
                code = "AccessDenied"
            results.append([op, key, code])
    print(json.dumps(results))


def main():
    endpoint, command, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    if command == "users":
        users(endpoint, json.loads(arg))
    elif command == "enforce":
        enforce(endpoint, arg)
    elif command == "deployed":
        deployed(endpoint, json.loads(arg))
    elif command == "probe":
        probe(endpoint, json.loads(arg))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
