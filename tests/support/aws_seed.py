"""Seeds the moto server with what a deployed stack would have in AWS, through
boto3 (AWS's own client, not panka's): the day-2 tests then read it back with
`panka logs` and `panka status --live`.

Usage: aws_seed.py ENDPOINT REGION '<json list of actions>'
  {"logs": GROUP, "stream": S, "events": [[millis, message], ...]}
  {"ecs": CLUSTER, "service": NAME, "desired": N}
  {"lambda": NAME}
"""

import json
import sys

import boto3


def client(service, endpoint, region):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def main():
    endpoint, region, actions = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    for a in actions:
        if "logs" in a:
            logs = client("logs", endpoint, region)
            try:
                logs.create_log_group(logGroupName=a["logs"])
            except logs.exceptions.ResourceAlreadyExistsException:
                pass
            try:
                logs.create_log_stream(logGroupName=a["logs"], logStreamName=a["stream"])
            except logs.exceptions.ResourceAlreadyExistsException:
                pass
            events = [{"timestamp": t, "message": m} for t, m in sorted(a["events"])]
            logs.put_log_events(logGroupName=a["logs"], logStreamName=a["stream"], logEvents=events)
        elif "ecs" in a:
            ecs = client("ecs", endpoint, region)
            ecs.create_cluster(clusterName=a["ecs"])
            td = ecs.register_task_definition(
                family=a["service"],
                containerDefinitions=[{"name": "app", "image": "nginx", "memory": 512}],
            )
            ecs.create_service(
                cluster=a["ecs"],
                serviceName=a["service"],
                taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
                desiredCount=a["desired"],
            )
        elif "lambda" in a:
            iam = client("iam", endpoint, region)
            role = iam.create_role(
                RoleName=a["lambda"] + "-seed",
                AssumeRolePolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                ),
            )
            import io
            import zipfile

            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                z.writestr("index.py", "def handler(e, c):\n    return 1\n")
            client("lambda", endpoint, region).create_function(
                FunctionName=a["lambda"],
                Runtime="python3.12",
                Role=role["Role"]["Arn"],
                Handler="index.handler",
                Code={"ZipFile": buf.getvalue()},
            )
        else:
            raise SystemExit(f"unknown action {a}")


if __name__ == "__main__":
    main()
