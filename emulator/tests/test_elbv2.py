"""ELBv2: CreateLoadBalancer, CreateTargetGroup and CreateListener are idempotent, as on AWS.

AWS (Elastic Load Balancing API reference, CreateLoadBalancer / CreateTargetGroup /
CreateListener): "This operation is idempotent, which means that it completes at most one
time. If you attempt to create multiple load balancers [target groups, listeners] with the
same settings, each call succeeds." The same name (listener: load balancer and port) with
other settings is DuplicateLoadBalancerName / DuplicateTargetGroupName / DuplicateListener.

Against plain moto (EMULATOR_TEST_PLAIN=1) every test of a same-settings call fails, and so do
the load balancer and listener "other settings" tests; the guards (another name or port, a
deleted resource's name, names per region, the target group "other settings" tests, which
moto answers as AWS does) pass there too: they keep the fix from answering too much.
"""

import unittest

from botocore.exceptions import ClientError

from emulator.tests.support import client, error_code, status, unique

REGION = "us-east-1"


class Network:
    """A VPC with two subnets in two zones and two security groups, made once per class."""

    def __init__(self) -> None:
        ec2 = client("ec2", REGION)
        self.vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        self.subnets = [
            ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{REGION}{az}")[
                "Subnet"
            ]["SubnetId"]
            for i, az in ((1, "a"), (2, "b"), (3, "c"))
        ]
        self.groups = [
            ec2.create_security_group(GroupName=unique("sg"), Description="test", VpcId=self.vpc)["GroupId"]
            for _ in range(2)
        ]


class ElbTest(unittest.TestCase):
    net: Network

    @classmethod
    def setUpClass(cls) -> None:
        cls.net = Network()

    def setUp(self) -> None:
        self.elb = client("elbv2", REGION)

    def create_lb(self, name: str, **over):
        args = {
            "Name": name,
            "Subnets": self.net.subnets[:2],
            "SecurityGroups": self.net.groups[:1],
            "Scheme": "internet-facing",
            "Type": "application",
            "Tags": [{"Key": "stack", "Value": "t"}],
        }
        args.update(over)
        return self.elb.create_load_balancer(**args)["LoadBalancers"][0]

    def tg_args(self, name: str, **over) -> dict:
        args = {
            "Name": name,
            "Protocol": "HTTP",
            "Port": 8080,
            "VpcId": self.net.vpc,
            "TargetType": "ip",
            "HealthCheckEnabled": True,
            "HealthCheckProtocol": "HTTP",
            "HealthCheckPath": "/health",
            "Matcher": {"HttpCode": "200"},
            "Tags": [{"Key": "stack", "Value": "t"}],
        }
        args.update(over)
        return args

    def create_tg(self, name: str, **over):
        return self.elb.create_target_group(**self.tg_args(name, **over))["TargetGroups"][0]

    def named_lbs(self, name: str) -> list:
        return [lb for lb in self.elb.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"] == name]

    def named_tgs(self, name: str) -> list:
        return [tg for tg in self.elb.describe_target_groups()["TargetGroups"] if tg["TargetGroupName"] == name]


class CreateLoadBalancerIdempotent(ElbTest):
    def test_same_name_and_settings_return_the_existing_load_balancer(self) -> None:
        name = unique("alb")
        first = self.create_lb(name)
        again = self.create_lb(name)
        self.assertEqual(again["LoadBalancerArn"], first["LoadBalancerArn"])
        self.assertEqual(again["DNSName"], first["DNSName"])
        self.assertEqual(len(self.named_lbs(name)), 1, "exactly one load balancer carries the name")

    def test_subnets_and_security_groups_compare_as_sets(self) -> None:
        name = unique("alb")
        first = self.create_lb(name)
        again = self.create_lb(name, Subnets=list(reversed(self.net.subnets[:2])))
        self.assertEqual(again["LoadBalancerArn"], first["LoadBalancerArn"])

    def test_omitted_defaults_are_the_same_settings(self) -> None:
        name = unique("alb")
        first = self.create_lb(name)
        again = self.elb.create_load_balancer(
            Name=name, Subnets=self.net.subnets[:2], SecurityGroups=self.net.groups[:1]
        )["LoadBalancers"][0]
        self.assertEqual(again["LoadBalancerArn"], first["LoadBalancerArn"])

    def test_same_name_with_other_settings_is_duplicate_load_balancer_name(self) -> None:
        name = unique("alb")
        self.create_lb(name)
        for other in (
            {"Subnets": [self.net.subnets[0], self.net.subnets[2]]},
            {"SecurityGroups": self.net.groups[1:]},
            {"Scheme": "internal"},
            {"IpAddressType": "dualstack"},
        ):
            with self.subTest(other=other):
                with self.assertRaises(ClientError) as e:
                    self.create_lb(name, **other)
                self.assertEqual(error_code(e.exception), "DuplicateLoadBalancerName")
                self.assertEqual(status(e.exception), 400)
        self.assertEqual(len(self.named_lbs(name)), 1)

    def test_settings_compare_with_the_current_load_balancer(self) -> None:
        # SetSecurityGroups changed the load balancer: the original request is no longer its
        # settings, the new ones are.
        name = unique("alb")
        first = self.create_lb(name)
        self.elb.set_security_groups(LoadBalancerArn=first["LoadBalancerArn"], SecurityGroups=self.net.groups[1:])
        with self.assertRaises(ClientError) as e:
            self.create_lb(name)
        self.assertEqual(error_code(e.exception), "DuplicateLoadBalancerName")
        again = self.create_lb(name, SecurityGroups=self.net.groups[1:])
        self.assertEqual(again["LoadBalancerArn"], first["LoadBalancerArn"])

    def test_a_deleted_load_balancers_name_can_be_reused(self) -> None:
        name = unique("alb")
        first = self.create_lb(name)
        self.elb.delete_load_balancer(LoadBalancerArn=first["LoadBalancerArn"])
        second = self.create_lb(name, Scheme="internal")
        self.assertNotEqual(second["LoadBalancerArn"], first["LoadBalancerArn"])
        self.assertEqual(second["Scheme"], "internal")

    def test_another_name_creates_another_load_balancer(self) -> None:
        a = self.create_lb(unique("alb"))
        b = self.create_lb(unique("alb"))
        self.assertNotEqual(a["LoadBalancerArn"], b["LoadBalancerArn"])

    def test_names_are_per_region(self) -> None:
        name = unique("alb")
        self.create_lb(name)
        ec2 = client("ec2", "us-east-2")
        vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=f"us-east-2{az}")["Subnet"][
                "SubnetId"
            ]
            for i, az in ((1, "a"), (2, "b"))
        ]
        other = client("elbv2", "us-east-2").create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]
        self.assertIn(":us-east-2:", other["LoadBalancerArn"])


class CreateTargetGroupIdempotent(ElbTest):
    def test_same_name_and_settings_return_the_existing_target_group(self) -> None:
        name = unique("tg")
        first = self.create_tg(name)
        again = self.create_tg(name)
        self.assertEqual(again["TargetGroupArn"], first["TargetGroupArn"])
        self.assertEqual(len(self.named_tgs(name)), 1, "exactly one target group carries the name")

    def test_omitted_defaults_are_the_same_settings(self) -> None:
        name = unique("tg")
        first = self.create_tg(name)
        explicit = self.create_tg(name, HealthCheckPort="traffic-port", HealthCheckIntervalSeconds=30)
        self.assertEqual(explicit["TargetGroupArn"], first["TargetGroupArn"])

    def test_same_name_with_other_settings_is_duplicate_target_group_name(self) -> None:
        name = unique("tg")
        self.create_tg(name)
        for other in (
            {"Port": 9090},
            {"Protocol": "HTTPS", "HealthCheckProtocol": "HTTPS"},
            {"TargetType": "instance"},
            {"HealthCheckPath": "/other"},
            {"Matcher": {"HttpCode": "200-299"}},
            {"HealthyThresholdCount": 3},
        ):
            with self.subTest(other=other):
                with self.assertRaises(ClientError) as e:
                    self.create_tg(name, **other)
                self.assertEqual(error_code(e.exception), "DuplicateTargetGroupName")
                self.assertEqual(status(e.exception), 400)
        self.assertEqual(len(self.named_tgs(name)), 1)

    def test_an_omitted_setting_that_was_given_is_another_setting(self) -> None:
        name = unique("tg")
        self.create_tg(name)
        args = self.tg_args(name)
        del args["HealthCheckPath"]  # the default path "/" is not "/health"
        with self.assertRaises(ClientError) as e:
            self.elb.create_target_group(**args)
        self.assertEqual(error_code(e.exception), "DuplicateTargetGroupName")

    def test_lambda_target_group_again(self) -> None:
        name = unique("tg")
        first = self.elb.create_target_group(Name=name, TargetType="lambda")["TargetGroups"][0]
        again = self.elb.create_target_group(Name=name, TargetType="lambda")["TargetGroups"][0]
        self.assertEqual(again["TargetGroupArn"], first["TargetGroupArn"])

    def test_a_deleted_target_groups_name_can_be_reused(self) -> None:
        name = unique("tg")
        first = self.create_tg(name)
        self.elb.delete_target_group(TargetGroupArn=first["TargetGroupArn"])
        second = self.create_tg(name, Port=9090)
        self.assertNotEqual(second["TargetGroupArn"], first["TargetGroupArn"])
        self.assertEqual(second["Port"], 9090)


class CreateListenerIdempotent(ElbTest):
    def setUp(self) -> None:
        super().setUp()
        self.lb = self.create_lb(unique("alb"))["LoadBalancerArn"]
        self.tg = self.create_tg(unique("tg"))["TargetGroupArn"]

    def create_listener(self, **over):
        args = {
            "LoadBalancerArn": self.lb,
            "Protocol": "HTTP",
            "Port": 80,
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": self.tg}],
            "Tags": [{"Key": "stack", "Value": "t"}],
        }
        args.update(over)
        return self.elb.create_listener(**args)["Listeners"][0]

    def listeners_on(self, port: int) -> list:
        return [ls for ls in self.elb.describe_listeners(LoadBalancerArn=self.lb)["Listeners"] if ls["Port"] == port]

    def test_same_port_and_settings_return_the_existing_listener(self) -> None:
        first = self.create_listener()
        again = self.create_listener()
        self.assertEqual(again["ListenerArn"], first["ListenerArn"])
        self.assertEqual(len(self.listeners_on(80)), 1, "exactly one listener on the port")
        tg = self.elb.describe_target_groups(TargetGroupArns=[self.tg])["TargetGroups"][0]
        self.assertEqual(tg["LoadBalancerArns"], [self.lb], "the target group names its load balancer once")

    def test_same_port_with_other_settings_is_duplicate_listener(self) -> None:
        self.create_listener()
        other_tg = self.create_tg(unique("tg"))["TargetGroupArn"]
        for other in (
            {"DefaultActions": [{"Type": "forward", "TargetGroupArn": other_tg}]},
            {
                "DefaultActions": [
                    {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"}}
                ]
            },
        ):
            with self.subTest(other=other):
                with self.assertRaises(ClientError) as e:
                    self.create_listener(**other)
                self.assertEqual(error_code(e.exception), "DuplicateListener")
                self.assertEqual(status(e.exception), 400)
        self.assertEqual(len(self.listeners_on(80)), 1)

    def test_https_listener_again_and_with_another_certificate(self) -> None:
        cert = "arn:aws:iam::123456789012:server-certificate/" + unique("cert")
        https = {"Protocol": "HTTPS", "Port": 443, "Certificates": [{"CertificateArn": cert}]}
        first = self.create_listener(**https, SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06")
        again = self.create_listener(**https, SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06")
        self.assertEqual(again["ListenerArn"], first["ListenerArn"])
        for other in (
            {**https, "Certificates": [{"CertificateArn": cert + "-2"}], "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
            {**https, "SslPolicy": "ELBSecurityPolicy-2016-08"},
        ):
            with self.subTest(other=other):
                with self.assertRaises(ClientError) as e:
                    self.create_listener(**other)
                self.assertEqual(error_code(e.exception), "DuplicateListener")
        self.assertEqual(len(self.listeners_on(443)), 1)

    def test_another_port_creates_another_listener(self) -> None:
        a = self.create_listener()
        b = self.create_listener(Port=8080)
        self.assertNotEqual(a["ListenerArn"], b["ListenerArn"])

    def test_a_deleted_listeners_port_can_be_reused(self) -> None:
        first = self.create_listener()
        self.elb.delete_listener(ListenerArn=first["ListenerArn"])
        other_tg = self.create_tg(unique("tg"))["TargetGroupArn"]
        second = self.create_listener(DefaultActions=[{"Type": "forward", "TargetGroupArn": other_tg}])
        self.assertNotEqual(second["ListenerArn"], first["ListenerArn"])


if __name__ == "__main__":
    unittest.main()
