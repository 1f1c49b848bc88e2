package main

// What AWS would compute for a resource: physical names, ids, ARNs and the
// computed outputs of the resource types panka deploys, with a generic
// fallback (name from `name`/`namePrefix`, a hashed id, a plausible ARN,
// typed placeholders) for every other type of the schema.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"time"
)

// res is one resource being created or updated.
type res struct {
	tok, mod, typ string
	urn, urnName  string
	in, out       map[string]any
	region        string
	account       string
	seed          int
	name          string // physical name ("" when the type has none)
	id            string
	created       time.Time
	revision      int
	spec          *ResourceSpec
}

type kind struct {
	what       string // "SQS Queue", for messages
	nameProp   string // the input holding the physical name
	prefixProp string
	noAutoName bool // no generated name when neither is given
	suffix     func(r *res) string
	prefixLen  int // digits appended to a prefix (Terraform: 26)
	// name checks Terraform does at plan time (Check failures)
	maxName   int
	nameRe    *regexp.Regexp
	nameRule  string
	maxPrefix int
	// uniqueness scope of the physical name ("" = not unique)
	uniq func(r *res) string
	id   func(r *res) string
	arn  func(r *res) string
	fill func(r *res)
	// the error AWS answers when the name is taken
	exists func(r *res) (code, msg string)
}

func str(m map[string]any, k string) string {
	if s, ok := m[k].(string); ok && s != unknownValue {
		return s
	}
	return ""
}

func boolv(m map[string]any, k string) bool { b, _ := m[k].(bool); return b }

func num(m map[string]any, k string) (float64, bool) { f, ok := m[k].(float64); return f, ok }

func hashOf(parts ...string) []byte {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return h[:]
}

func (r *res) hex(n int, salt string) string {
	return hex.EncodeToString(hashOf(r.urn, fmt.Sprint(r.seed), salt))[:n]
}

func (r *res) digits(n int, salt string) string {
	v := new(big.Int).SetBytes(hashOf(r.urn, fmt.Sprint(r.seed), salt))
	s := v.String()
	for len(s) < n {
		s += "0"
	}
	return s[:n]
}

func (r *res) upper(n int, salt string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := hashOf(r.urn, fmt.Sprint(r.seed), salt)
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[int(b[i%len(b)]+byte(i/len(b)))%len(alphabet)]
	}
	return string(out)
}

func (r *res) uuid(salt string) string {
	h := r.hex(32, salt)
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

func requestID(subject string) string {
	h := hex.EncodeToString(hashOf(subject, time.Now().String()))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (r *res) arnOf(service, resource string, regional bool) string {
	region := r.region
	if !regional {
		region = ""
	}
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, region, r.account, resource)
}

// awsError formats an error the way the Terraform AWS provider reports a
// failed API call.
func awsError(verb, what, name, code, msg string) error {
	return fmt.Errorf("%s %s (%s): operation error: https response error StatusCode: 400, RequestID: %s, %s: %s",
		verb, what, name, requestID(what+name), code, msg)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// nameFromARN: the last path segment of an ARN (or the value itself).
func nameFromARN(v string) string {
	if strings.HasPrefix(v, "arn:") {
		if i := strings.LastIndexAny(v, "/:"); i >= 0 {
			return v[i+1:]
		}
	}
	return v
}

var regionShort = map[string]string{
	"us-east-1": "use1", "us-east-2": "use2", "us-west-1": "usw1", "us-west-2": "usw2",
	"eu-west-1": "euw1", "eu-west-2": "euw2", "eu-west-3": "euw3", "eu-central-1": "euc1",
	"eu-north-1": "eun1", "ap-southeast-1": "apse1", "ap-southeast-2": "apse2",
	"ap-northeast-1": "apne1", "ca-central-1": "cac1", "sa-east-1": "sae1",
}

func short(region string) string {
	if s, ok := regionShort[region]; ok {
		return s
	}
	return strings.ReplaceAll(region, "-", "")
}

var (
	reTargetGroup = regexp.MustCompile(`^[0-9A-Za-z](?:[0-9A-Za-z-]*[0-9A-Za-z])?$`)
	reIAMName     = regexp.MustCompile(`^[\w+=,.@-]+$`)
	reLambdaName  = regexp.MustCompile(`^[a-zA-Z0-9-_]+$`)
	reLogGroup    = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)
	reDynamo      = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	reRDSIdent    = regexp.MustCompile(`^[a-z](?:[a-z0-9]|-(?:[a-z0-9]))*$`)
	reCacheID     = regexp.MustCompile(`^[A-Za-z](?:[0-9A-Za-z]|-(?:[0-9A-Za-z]))*$`)
	reBucket      = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$`)
	reScheduler   = regexp.MustCompile(`^[0-9a-zA-Z-_.]+$`)
	reSNSTopic    = regexp.MustCompile(`^[A-Za-z0-9_-]+(?:\.fifo)?$`)
	reECSName     = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	reSQS         = regexp.MustCompile(`^[0-9A-Za-z_-]{1,80}$`)
	reSQSFifo     = regexp.MustCompile(`^[0-9A-Za-z_-]{1,75}\.fifo$`)
)

func exists(code, format string) func(r *res) (string, string) {
	return func(r *res) (string, string) { return code, fmt.Sprintf(format, r.name) }
}

func tagsAll(r *res, defaultTags map[string]any) {
	if _, ok := r.spec.Properties["tagsAll"]; !ok {
		return
	}
	all := map[string]any{}
	for k, v := range defaultTags {
		all[k] = v
	}
	if t, ok := r.in["tags"].(map[string]any); ok {
		for k, v := range t {
			if v == nil {
				delete(all, k)
			} else {
				all[k] = v
			}
		}
	}
	r.out["tagsAll"] = all
}

// kinds: the resource types with known AWS behaviour. Tokens are the
// schema's canonical ones.
var kinds = map[string]*kind{
	"aws:s3/bucket:Bucket": {
		what: "S3 Bucket", nameProp: "bucket", prefixProp: "bucketPrefix", prefixLen: 26,
		maxName: 63, nameRe: reBucket, nameRule: "lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit", maxPrefix: 37,
		uniq: func(r *res) string { return r.name },
		id:   func(r *res) string { return r.name },
		arn:  func(r *res) string { return "arn:aws:s3:::" + r.name },
		fill: func(r *res) {
			r.out["bucket"] = r.name
			r.out["bucketDomainName"] = r.name + ".s3.amazonaws.com"
			r.out["bucketRegionalDomainName"] = r.name + ".s3." + r.region + ".amazonaws.com"
			r.out["bucketRegion"] = r.region
			r.out["hostedZoneId"] = "Z" + r.upper(13, "zone")
		},
		exists: exists("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it (%s)."),
	},
	"aws:sqs/queue:Queue": {
		what: "SQS Queue", nameProp: "name", prefixProp: "namePrefix", prefixLen: 26,
		suffix: func(r *res) string {
			if boolv(r.in, "fifoQueue") {
				return ".fifo"
			}
			return ""
		},
		uniq: func(r *res) string { return r.name },
		id: func(r *res) string {
			return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", r.region, r.account, r.name)
		},
		arn: func(r *res) string { return r.arnOf("sqs", r.name, true) },
		fill: func(r *res) {
			r.out["url"] = r.id
			if _, ok := r.out["fifoQueue"]; !ok {
				r.out["fifoQueue"] = false
			}
		},
		exists: exists("QueueAlreadyExists", "A queue already exists with the same name: %s"),
	},
	"aws:sns/topic:Topic": {
		what: "SNS Topic", nameProp: "name", prefixProp: "namePrefix", prefixLen: 26,
		maxName: 256, nameRe: reSNSTopic, nameRule: "letters, digits, underscores and hyphens (and .fifo)",
		suffix: func(r *res) string {
			if boolv(r.in, "fifoTopic") {
				return ".fifo"
			}
			return ""
		},
		uniq:   func(r *res) string { return r.name },
		id:     func(r *res) string { return r.arnOf("sns", r.name, true) },
		arn:    func(r *res) string { return r.arnOf("sns", r.name, true) },
		fill:   func(r *res) { r.out["owner"] = r.account },
		exists: exists("InvalidParameter", "Invalid parameter: Topic %s already exists with different attributes"),
	},
	"aws:sns/topicSubscription:TopicSubscription": {
		what: "SNS Topic Subscription",
		id:   func(r *res) string { return str(r.in, "topic") + ":" + r.uuid("sub") },
		arn:  func(r *res) string { return str(r.in, "topic") + ":" + r.uuid("sub") },
		fill: func(r *res) {
			r.out["ownerId"] = r.account
			r.out["pendingConfirmation"] = false
			r.out["confirmationWasAuthenticated"] = true
		},
	},
	"aws:dynamodb/table:Table": {
		what: "DynamoDB Table", nameProp: "name", noAutoName: true,
		maxName: 255, nameRe: reDynamo, nameRule: "letters, digits, underscores, hyphens and dots",
		uniq: func(r *res) string { return r.name },
		id:   func(r *res) string { return r.name },
		arn:  func(r *res) string { return r.arnOf("dynamodb", "table/"+r.name, true) },
		fill: func(r *res) {
			if boolv(r.in, "streamEnabled") {
				label := r.created.UTC().Format("2006-01-02T15:04:05.000")
				r.out["streamLabel"] = label
				r.out["streamArn"] = r.arnOf("dynamodb", "table/"+r.name+"/stream/"+label, true)
			} else {
				r.out["streamLabel"] = ""
				r.out["streamArn"] = ""
			}
			if _, ok := r.out["billingMode"]; !ok {
				r.out["billingMode"] = "PROVISIONED"
			}
		},
		exists: exists("ResourceInUseException", "Table already exists: %s"),
	},
	"aws:iam/role:Role": {
		what: "IAM Role", nameProp: "name", prefixProp: "namePrefix", prefixLen: 26,
		maxName: 64, nameRe: reIAMName, nameRule: "alphanumerics and +=,.@-_", maxPrefix: 38,
		uniq: func(r *res) string { return r.name },
		id:   func(r *res) string { return r.name },
		arn: func(r *res) string {
			p := str(r.in, "path")
			if p == "" {
				p = "/"
			}
			return r.arnOf("iam", "role"+p+r.name, false)
		},
		fill: func(r *res) {
			r.out["uniqueId"] = "AROA" + r.upper(17, "uid")
			r.out["createDate"] = r.created.UTC().Format(time.RFC3339)
			if _, ok := r.out["path"]; !ok {
				r.out["path"] = "/"
			}
			if _, ok := r.out["maxSessionDuration"]; !ok {
				r.out["maxSessionDuration"] = 3600.0
			}
		},
		exists: exists("EntityAlreadyExists", "Role with name %s already exists."),
	},
	"aws:iam/policy:Policy": {
		what: "IAM Policy", nameProp: "name", prefixProp: "namePrefix", prefixLen: 26,
		maxName: 128, nameRe: reIAMName, nameRule: "alphanumerics and +=,.@-_",
		uniq: func(r *res) string { return r.name },
		arn: func(r *res) string {
			p := str(r.in, "path")
			if p == "" {
				p = "/"
			}
			return r.arnOf("iam", "policy"+p+r.name, false)
		},
		id: func(r *res) string { return "" }, // = arn, below
		fill: func(r *res) {
			r.out["policyId"] = "ANPA" + r.upper(17, "pid")
			r.out["attachmentCount"] = 0.0
			if _, ok := r.out["path"]; !ok {
				r.out["path"] = "/"
			}
		},
		exists: exists("EntityAlreadyExists", "A policy called %s already exists. Duplicate names are not allowed."),
	},
	"aws:iam/rolePolicy:RolePolicy": {
		what: "IAM Role Policy", nameProp: "name", prefixProp: "namePrefix", prefixLen: 26,
		maxName: 128, nameRe: reIAMName, nameRule: "alphanumerics and +=,.@-_",
		uniq: func(r *res) string { return nameFromARN(str(r.in, "role")) + ":" + r.name },
		id:   func(r *res) string { return nameFromARN(str(r.in, "role")) + ":" + r.name },
	},
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": {
		what: "IAM Role Policy Attachment",
		id:   func(r *res) string { return nameFromARN(str(r.in, "role")) + "-" + r.digits(26, "att") },
	},
	"aws:cloudwatch/logGroup:LogGroup": {
		what: "CloudWatch Logs Log Group", nameProp: "name", prefixProp: "namePrefix", prefixLen: 26,
		maxName: 512, nameRe: reLogGroup, nameRule: "letters, digits and ._-/#", maxPrefix: 483,
		uniq: func(r *res) string { return r.name },
		id:   func(r *res) string { return r.name },
		arn:  func(r *res) string { return r.arnOf("logs", "log-group:"+r.name, true) },
		fill: func(r *res) {
			if _, ok := r.out["logGroupClass"]; !ok {
				r.out["logGroupClass"] = "STANDARD"
			}
		},
		exists: exists("ResourceAlreadyExistsException", "The specified log group already exists: %s"),
	},
	"aws:ecs/cluster:Cluster": {
		what: "ECS Cluster", nameProp: "name", maxName: 255, nameRe: reECSName, nameRule: "letters, digits, hyphens and underscores",
		uniq:   func(r *res) string { return r.name },
		id:     func(r *res) string { return r.arnOf("ecs", "cluster/"+r.name, true) },
		arn:    func(r *res) string { return r.arnOf("ecs", "cluster/"+r.name, true) },
		exists: exists("InvalidParameterException", "Cluster %s already exists."),
	},
	"aws:ecs/service:Service": {
		what: "ECS Service", nameProp: "name", noAutoName: true, maxName: 255, nameRe: reECSName, nameRule: "letters, digits, hyphens and underscores",
		uniq: func(r *res) string { return clusterName(r) + "/" + r.name },
		id:   func(r *res) string { return r.arnOf("ecs", "service/"+clusterName(r)+"/"+r.name, true) },
		arn:  func(r *res) string { return r.arnOf("ecs", "service/"+clusterName(r)+"/"+r.name, true) },
		fill: func(r *res) {
			if _, ok := r.out["cluster"]; !ok {
				r.out["cluster"] = r.arnOf("ecs", "cluster/default", true)
			}
		},
		exists: exists("InvalidParameterException", "Creation of service was not idempotent (%s)."),
	},
	"aws:ecs/taskDefinition:TaskDefinition": {
		what: "ECS Task Definition", nameProp: "family", noAutoName: true,
		maxName: 255, nameRe: reECSName, nameRule: "letters, digits, hyphens and underscores",
		id: func(r *res) string { return r.name },
		arn: func(r *res) string {
			return r.arnOf("ecs", fmt.Sprintf("task-definition/%s:%d", r.name, r.revision), true)
		},
		fill: func(r *res) {
			r.out["revision"] = float64(r.revision)
			r.out["arnWithoutRevision"] = r.arnOf("ecs", "task-definition/"+r.name, true)
		},
	},
	"aws:lb/targetGroup:TargetGroup": {
		what: "ELBv2 Target Group", nameProp: "name", prefixProp: "namePrefix", prefixLen: 26,
		maxName: 32, nameRe: reTargetGroup, nameRule: "alphanumerics and hyphens, not beginning or ending with a hyphen", maxPrefix: 6,
		uniq: func(r *res) string { return r.name },
		id: func(r *res) string {
			return r.arnOf("elasticloadbalancing", "targetgroup/"+r.name+"/"+r.hex(16, "tg"), true)
		},
		arn: func(r *res) string {
			return r.arnOf("elasticloadbalancing", "targetgroup/"+r.name+"/"+r.hex(16, "tg"), true)
		},
		fill: func(r *res) {
			r.out["arnSuffix"] = "targetgroup/" + r.name + "/" + r.hex(16, "tg")
			r.out["loadBalancerArns"] = []any{}
		},
		exists: exists("DuplicateTargetGroupName", "A target group with the same name '%s' exists, but with different settings"),
	},
	"aws:lb/listenerRule:ListenerRule": {
		what: "ELBv2 Listener Rule",
		id:   listenerRuleARN,
		arn:  listenerRuleARN,
	},
	"aws:ec2/securityGroup:SecurityGroup": {
		what: "Security Group", nameProp: "name", prefixProp: "namePrefix", prefixLen: 26,
		maxName: 255, maxPrefix: 100,
		uniq: func(r *res) string { return str(r.in, "vpcId") + "/" + r.name },
		id:   func(r *res) string { return "sg-" + r.hex(17, "sg") },
		arn:  func(r *res) string { return r.arnOf("ec2", "security-group/sg-"+r.hex(17, "sg"), true) },
		fill: func(r *res) {
			r.out["ownerId"] = r.account
			if _, ok := r.out["description"]; !ok {
				r.out["description"] = "Managed by Pulumi"
			}
		},
		exists: func(r *res) (string, string) {
			return "InvalidGroup.Duplicate", fmt.Sprintf("The security group '%s' already exists for VPC '%s'", r.name, str(r.in, "vpcId"))
		},
	},
	"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {
		what: "VPC Security Group Ingress Rule",
		id:   func(r *res) string { return "sgr-" + r.hex(17, "sgr") },
		arn:  func(r *res) string { return r.arnOf("ec2", "security-group-rule/sgr-"+r.hex(17, "sgr"), true) },
		fill: func(r *res) { r.out["securityGroupRuleId"] = r.id },
	},
	"aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": {
		what: "VPC Security Group Egress Rule",
		id:   func(r *res) string { return "sgr-" + r.hex(17, "sgr") },
		arn:  func(r *res) string { return r.arnOf("ec2", "security-group-rule/sgr-"+r.hex(17, "sgr"), true) },
		fill: func(r *res) { r.out["securityGroupRuleId"] = r.id },
	},
	"aws:rds/instance:Instance": {
		what: "RDS DB Instance", nameProp: "identifier", prefixProp: "identifierPrefix", prefixLen: 26,
		maxName: 63, nameRe: reRDSIdent, nameRule: "lowercase alphanumerics and hyphens, beginning with a letter, no two consecutive hyphens nor a trailing one", maxPrefix: 37,
		uniq: func(r *res) string { return r.name },
		// Since Terraform AWS provider v5 the id is the DBI resource id.
		id:  func(r *res) string { return "db-" + r.upper(26, "dbi") },
		arn: func(r *res) string { return r.arnOf("rds", "db:"+r.name, true) },
		fill: func(r *res) {
			port, ok := num(r.in, "port")
			if !ok {
				port = defaultDBPort(str(r.in, "engine"))
			}
			addr := fmt.Sprintf("%s.%s.%s.rds.amazonaws.com", r.name, strings.ToLower(r.upper(12, "acct-"+r.region)), r.region)
			r.out["identifier"] = r.name
			r.out["port"] = port
			r.out["address"] = addr
			r.out["endpoint"] = fmt.Sprintf("%s:%d", addr, int(port))
			r.out["resourceId"] = r.id
			r.out["status"] = "available"
			r.out["engineVersionActual"] = str(r.in, "engineVersion")
			r.out["hostedZoneId"] = "Z" + r.upper(13, "zone")
			if boolv(r.in, "manageMasterUserPassword") {
				r.out["masterUserSecrets"] = []any{map[string]any{
					"secretArn":    r.arnOf("secretsmanager", "secret:rds!"+r.id[:3]+r.uuid("secret")+"-"+r.hex(6, "sfx"), true),
					"kmsKeyId":     r.arnOf("kms", "key/"+r.uuid("kms"), true),
					"secretStatus": "active",
				}}
			} else {
				r.out["masterUserSecrets"] = []any{}
			}
		},
		exists: exists("DBInstanceAlreadyExists", "DB instance already exists (%s)"),
	},
	"aws:rds/subnetGroup:SubnetGroup": {
		what: "RDS DB Subnet Group", nameProp: "name", prefixProp: "namePrefix", prefixLen: 26, maxName: 255,
		uniq: func(r *res) string { return r.name },
		id:   func(r *res) string { return r.name },
		arn:  func(r *res) string { return r.arnOf("rds", "subgrp:"+r.name, true) },
		fill: func(r *res) {
			r.out["vpcId"] = "vpc-" + r.hex(17, "vpc")
			r.out["supportedNetworkTypes"] = []any{"IPV4"}
		},
		exists: exists("DBSubnetGroupAlreadyExists", "The DB subnet group '%s' already exists."),
	},
	"aws:elasticache/replicationGroup:ReplicationGroup": {
		what: "ElastiCache Replication Group", nameProp: "replicationGroupId",
		maxName: 40, nameRe: reCacheID, nameRule: "alphanumerics and hyphens, beginning with a letter, no two consecutive hyphens nor a trailing one",
		uniq: func(r *res) string { return r.name },
		id:   func(r *res) string { return r.name },
		arn:  func(r *res) string { return r.arnOf("elasticache", "replicationgroup:"+r.name, true) },
		fill: func(r *res) {
			port, ok := num(r.in, "port")
			if !ok {
				port = 6379
			}
			host := fmt.Sprintf("%s.%s.%s.cache.amazonaws.com", r.name, r.hex(6, "cache"), short(r.region))
			r.out["port"] = port
			r.out["replicationGroupId"] = r.name
			if strings.EqualFold(str(r.in, "clusterMode"), "enabled") {
				r.out["clusterEnabled"] = true
				r.out["configurationEndpointAddress"] = "clustercfg." + host
				r.out["primaryEndpointAddress"] = ""
				r.out["readerEndpointAddress"] = ""
			} else {
				r.out["clusterEnabled"] = false
				r.out["configurationEndpointAddress"] = ""
				r.out["primaryEndpointAddress"] = "master." + host
				r.out["readerEndpointAddress"] = "replica." + host
			}
			n := 1
			if f, ok := num(r.in, "numCacheClusters"); ok && f >= 1 {
				n = int(f)
			}
			members := make([]any, n)
			for i := range members {
				members[i] = fmt.Sprintf("%s-%03d", r.name, i+1)
			}
			r.out["memberClusters"] = members
			r.out["engineVersionActual"] = str(r.in, "engineVersion")
		},
		exists: exists("ReplicationGroupAlreadyExists", "Replication group %s already exists."),
	},
	"aws:elasticache/subnetGroup:SubnetGroup": {
		what: "ElastiCache Subnet Group", nameProp: "name", maxName: 255,
		uniq:   func(r *res) string { return strings.ToLower(r.name) },
		id:     func(r *res) string { return strings.ToLower(r.name) },
		arn:    func(r *res) string { return r.arnOf("elasticache", "subnetgroup:"+strings.ToLower(r.name), true) },
		fill:   func(r *res) { r.out["vpcId"] = "vpc-" + r.hex(17, "vpc") },
		exists: exists("CacheSubnetGroupAlreadyExists", "Cache subnet group %s already exists."),
	},
	"aws:lambda/function:Function": {
		what: "Lambda Function", nameProp: "name",
		maxName: 64, nameRe: reLambdaName, nameRule: "letters, digits, hyphens and underscores",
		uniq: func(r *res) string { return r.name },
		id:   func(r *res) string { return r.name },
		arn:  func(r *res) string { return r.arnOf("lambda", "function:"+r.name, true) },
		fill: func(r *res) {
			arn := r.arnOf("lambda", "function:"+r.name, true)
			r.out["invokeArn"] = fmt.Sprintf("arn:aws:apigateway:%s:lambda:path/2015-03-31/functions/%s/invocations", r.region, arn)
			r.out["qualifiedArn"] = arn + ":$LATEST"
			r.out["qualifiedInvokeArn"] = fmt.Sprintf("arn:aws:apigateway:%s:lambda:path/2015-03-31/functions/%s:$LATEST/invocations", r.region, arn)
			r.out["version"] = "$LATEST"
			r.out["lastModified"] = r.created.UTC().Format("2006-01-02T15:04:05.000+0000")
			if _, ok := r.out["codeSha256"]; !ok {
				r.out["codeSha256"] = r.hex(43, "code")
			}
		},
		exists: exists("ResourceConflictException", "Function already exist: %s"),
	},
	"aws:lambda/eventSourceMapping:EventSourceMapping": {
		what: "Lambda Event Source Mapping",
		id:   func(r *res) string { return r.uuid("esm") },
		arn:  func(r *res) string { return r.arnOf("lambda", "event-source-mapping:"+r.uuid("esm"), true) },
		fill: func(r *res) {
			r.out["uuid"] = r.id
			fn := str(r.in, "functionName")
			if !strings.HasPrefix(fn, "arn:") {
				fn = r.arnOf("lambda", "function:"+fn, true)
			}
			r.out["functionArn"] = fn
			r.out["state"] = "Enabled"
			r.out["lastModified"] = r.created.UTC().Format(time.RFC3339)
		},
	},
	"aws:lambda/permission:Permission": {
		what: "Lambda Permission", nameProp: "statementId", prefixProp: "statementIdPrefix", prefixLen: 26,
		uniq:   func(r *res) string { return nameFromARN(str(r.in, "function")) + "/" + r.name },
		id:     func(r *res) string { return r.name },
		exists: exists("ResourceConflictException", "The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement."),
	},
	"aws:sqs/queuePolicy:QueuePolicy": {
		what: "SQS Queue Policy",
		id:   func(r *res) string { return str(r.in, "queueUrl") },
	},
	"aws:sns/topicPolicy:TopicPolicy": {
		what: "SNS Topic Policy",
		id:   func(r *res) string { return str(r.in, "arn") },
		fill: func(r *res) { r.out["owner"] = r.account },
	},
	"aws:scheduler/schedule:Schedule": {
		what: "EventBridge Scheduler Schedule", nameProp: "name", prefixProp: "namePrefix", prefixLen: 26,
		maxName: 64, nameRe: reScheduler, nameRule: "letters, digits and -_.", maxPrefix: 38,
		uniq: func(r *res) string { return scheduleGroup(r) + "/" + r.name },
		id:   func(r *res) string { return scheduleGroup(r) + "/" + r.name },
		arn:  func(r *res) string { return r.arnOf("scheduler", "schedule/"+scheduleGroup(r)+"/"+r.name, true) },
		fill: func(r *res) {
			r.out["groupName"] = scheduleGroup(r)
			if _, ok := r.out["state"]; !ok {
				r.out["state"] = "ENABLED"
			}
		},
		exists: exists("ConflictException", "Schedule %s already exists."),
	},
	"aws:appautoscaling/target:Target": {
		what: "Application AutoScaling Target",
		id:   func(r *res) string { return str(r.in, "resourceId") },
		arn: func(r *res) string {
			return r.arnOf("application-autoscaling", "scalable-target/"+r.hex(30, "st"), true)
		},
		fill: func(r *res) {
			r.out["roleArn"] = r.arnOf("iam", "role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService", false)
		},
	},
	"aws:appautoscaling/policy:Policy": {
		what: "Application AutoScaling Policy", nameProp: "name", noAutoName: true, maxName: 255,
		id: func(r *res) string { return r.name },
		arn: func(r *res) string {
			return r.arnOf("autoscaling", fmt.Sprintf("scalingPolicy:%s:resource/%s/%s:policyName/%s",
				r.uuid("pol"), str(r.in, "serviceNamespace"), str(r.in, "resourceId"), r.name), true)
		},
		fill: func(r *res) { r.out["alarmArns"] = []any{} },
	},
}

func clusterName(r *res) string {
	c := str(r.in, "cluster")
	if c == "" {
		return "default"
	}
	return nameFromARN(c)
}

func scheduleGroup(r *res) string {
	if g := str(r.in, "groupName"); g != "" {
		return g
	}
	return "default"
}

func listenerRuleARN(r *res) string {
	l := str(r.in, "listenerArn")
	if i := strings.Index(l, ":listener/"); i >= 0 {
		return l[:i] + ":listener-rule/" + l[i+len(":listener/"):] + "/" + r.hex(16, "rule")
	}
	return r.arnOf("elasticloadbalancing", "listener-rule/app/unknown/"+r.hex(16, "lb")+"/"+r.hex(16, "rule"), true)
}

func defaultDBPort(engine string) float64 {
	switch {
	case strings.Contains(engine, "postgres"):
		return 5432
	case strings.Contains(engine, "mysql"), strings.Contains(engine, "mariadb"), strings.HasPrefix(engine, "aurora"):
		return 3306
	case strings.HasPrefix(engine, "oracle"):
		return 1521
	case strings.HasPrefix(engine, "sqlserver"):
		return 1433
	case strings.HasPrefix(engine, "db2"):
		return 50000
	}
	return 3306
}

// s3 bucket configuration resources: the id is the bucket.
var bucketScoped = regexp.MustCompile(`^aws:s3/bucket[A-Za-z]+:Bucket[A-Za-z]+$`)

// kindFor returns the behaviour of a token: a known kind, or one derived
// from the schema.
func kindFor(tok string, spec *ResourceSpec) *kind {
	if k, ok := kinds[tok]; ok {
		return k
	}
	_, typ := splitToken(tok)
	mod, _ := splitToken(tok)
	k := &kind{what: strings.ToUpper(mod) + " " + typ}
	if spec == nil {
		return k
	}
	if bucketScoped.MatchString(tok) {
		if _, ok := spec.InputProperties["bucket"]; ok {
			k.id = func(r *res) string { return str(r.in, "bucket") }
			return k
		}
	}
	if p, ok := spec.InputProperties["name"]; ok && p.Type == "string" {
		k.nameProp = "name"
		if _, ok := spec.InputProperties["namePrefix"]; ok {
			k.prefixProp = "namePrefix"
			k.prefixLen = 26
		}
		if _, ok := spec.Properties["name"]; !ok {
			k.noAutoName = true
		}
		k.uniq = func(r *res) string { return r.name }
		k.exists = exists("AlreadyExistsException", "A resource named %s already exists.")
	}
	return k
}

// genericARN is used for types with an `arn` output and no known format.
func genericARN(r *res) string {
	service := r.mod
	switch r.mod {
	case "cloudwatch":
		service = "logs"
	case "lb", "alb", "elb":
		service = "elasticloadbalancing"
	case "vpc":
		service = "ec2"
	case "appautoscaling":
		service = "application-autoscaling"
	case "cfg":
		service = "config"
	}
	ident := r.name
	if ident == "" {
		ident = r.id
	}
	return r.arnOf(service, lowerFirst(r.typ)+"/"+ident, true)
}
