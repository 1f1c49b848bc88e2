"""Seeds the moto server with what a deployed stack would have in AWS, through
boto3 (AWS's own client, not panka's): the day-2 tests then read it back with
`panka logs` and `panka status --live`.

Usage: aws_seed.py ENDPOINT REGION '<json list of actions>'
  {"logs": GROUP, "stream": S, "events": [[millis, message], ...]}
  {"ecs": CLUSTER, "service": NAME, "desired": N}
  {"lambda": NAME}
  {"bucket": NAME}
  {"elbv2": LB_NAME, "rules": [{"priority": N, "tags": {K: V}}, ...]}
      a load balancer with an HTTP listener and these rules; prints
      {"listener": ARN, "rules": {"N": ARN}}
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
        elif "bucket" in a:
            client("s3", endpoint, region).create_bucket(
                Bucket=a["bucket"], CreateBucketConfiguration={"LocationConstraint": region}
            )
        elif "elbv2" in a:
            ec2 = client("ec2", endpoint, region)
            vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
            subnets = [
                ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=region + az)["Subnet"][
                    "SubnetId"
                ]
                for i, az in ((1, "a"), (2, "b"))
            ]
            elb = client("elbv2", endpoint, region)
            lb = elb.create_load_balancer(Name=a["elbv2"], Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
            tg = elb.create_target_group(Name=a["elbv2"] + "-tg", Protocol="HTTP", Port=80, VpcId=vpc)[
                "TargetGroups"
            ][0]["TargetGroupArn"]
            forward = [{"Type": "forward", "TargetGroupArn": tg}]
            listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=forward)[
                "Listeners"
            ][0]["ListenerArn"]
            rules = {}
            for r in a.get("rules", []):
                tags = [{"Key": k, "Value": v} for k, v in r.get("tags", {}).items()]
                rule = elb.create_rule(
                    ListenerArn=listener,
                    Priority=r["priority"],
                    Conditions=[{"Field": "path-pattern", "Values": [f"/seeded-{r['priority']}/*"]}],
                    Actions=forward,
                    **({"Tags": tags} if tags else {}),
                )
                rules[str(r["priority"])] = rule["Rules"][0]["RuleArn"]
            print(json.dumps({"listener": listener, "rules": rules}))
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
