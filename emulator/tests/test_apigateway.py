"""API Gateway: base path mappings of a custom domain that has none."""

import unittest

from botocore.exceptions import ClientError

from emulator.tests.support import client, error_code, status, unique


class BasePathMappingsOfADomainWithout(unittest.TestCase):
    def setUp(self) -> None:
        self.apigw = client("apigateway", "us-east-2")
        self.domain = f"{unique('api')}.example.com"
        self.apigw.create_domain_name(
            domainName=self.domain,
            regionalCertificateArn="arn:aws:acm:us-east-2:123456789012:certificate/abc",
            endpointConfiguration={"types": ["REGIONAL"]},
        )

    def test_get_base_path_mappings_is_an_empty_list(self) -> None:
        out = self.apigw.get_base_path_mappings(domainName=self.domain)
        self.assertEqual(out["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertEqual(out.get("items", []), [])

    def test_get_base_path_mappings_raw_shape_is_item_list(self) -> None:
        bodies = []
        self.apigw.meta.events.register(
            "after-call.api-gateway.GetBasePathMappings",
            lambda http_response, **_: bodies.append(http_response.content),
        )
        self.apigw.get_base_path_mappings(domainName=self.domain)
        import json

        self.assertEqual(json.loads(bodies[0]), {"item": []})

    def test_get_one_mapping_is_not_found(self) -> None:
        with self.assertRaises(ClientError) as e:
            self.apigw.get_base_path_mapping(domainName=self.domain, basePath="(none)")
        self.assertEqual(error_code(e.exception), "NotFoundException")
        self.assertEqual(status(e.exception), 404)

    def test_mappings_go_with_their_domain(self) -> None:
        api = self.apigw.create_rest_api(name=unique("api"))["id"]
        root = self.apigw.get_resources(restApiId=api)["items"][0]["id"]
        self.apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
        self.apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
        self.apigw.create_deployment(restApiId=api, stageName="prod")
        self.apigw.create_base_path_mapping(domainName=self.domain, restApiId=api, stage="prod")
        self.assertEqual(len(self.apigw.get_base_path_mappings(domainName=self.domain)["items"]), 1)
        self.apigw.delete_domain_name(domainName=self.domain)
        self.apigw.create_domain_name(
            domainName=self.domain,
            regionalCertificateArn="arn:aws:acm:us-east-2:123456789012:certificate/abc",
            endpointConfiguration={"types": ["REGIONAL"]},
        )
        self.assertEqual(self.apigw.get_base_path_mappings(domainName=self.domain).get("items", []), [])


class DeleteRestApiGone(unittest.TestCase):
    def test_deleting_an_api_already_gone_is_not_found(self) -> None:
        apigw = client("apigateway", "us-east-1")
        api = apigw.create_rest_api(name=unique("api"))["id"]
        apigw.delete_rest_api(restApiId=api)
        with self.assertRaises(ClientError) as e:
            apigw.delete_rest_api(restApiId=api)
        self.assertEqual(error_code(e.exception), "NotFoundException")
        self.assertEqual(status(e.exception), 404)


if __name__ == "__main__":
    unittest.main()


class CreateResourceTwice(unittest.TestCase):
    def setUp(self) -> None:
        self.apigw = client("apigateway", "us-east-1")
        self.api = self.apigw.create_rest_api(name=unique("api"))["id"]
        self.root = self.apigw.get_resources(restApiId=self.api)["items"][0]["id"]

    def test_same_path_part_under_the_same_parent_is_a_conflict(self) -> None:
        self.apigw.create_resource(restApiId=self.api, parentId=self.root, pathPart="health")
        with self.assertRaises(ClientError) as e:
            self.apigw.create_resource(restApiId=self.api, parentId=self.root, pathPart="health")
        self.assertEqual(error_code(e.exception), "ConflictException")
        self.assertEqual(status(e.exception), 409)
        paths = [r["path"] for r in self.apigw.get_resources(restApiId=self.api)["items"]]
        self.assertEqual(sorted(paths), ["/", "/health"])

    def test_same_path_part_under_another_parent_is_created(self) -> None:
        a = self.apigw.create_resource(restApiId=self.api, parentId=self.root, pathPart="a")["id"]
        self.apigw.create_resource(restApiId=self.api, parentId=self.root, pathPart="health")
        self.apigw.create_resource(restApiId=self.api, parentId=a, pathPart="health")
        paths = sorted(r["path"] for r in self.apigw.get_resources(restApiId=self.api)["items"])
        self.assertEqual(paths, ["/", "/a", "/a/health", "/health"])


class UsagePlanDeletesOfWhatIsGone(unittest.TestCase):
    """A delete retried after its answer was lost must be NotFound (404), not 500."""

    def setUp(self) -> None:
        self.apigw = client("apigateway", "us-east-1")
        self.key = self.apigw.create_api_key(name=unique("key"), enabled=True)["id"]
        self.plan = self.apigw.create_usage_plan(name=unique("plan"))["id"]
        self.apigw.create_usage_plan_key(usagePlanId=self.plan, keyId=self.key, keyType="API_KEY")

    def test_deleting_a_plan_key_twice_is_not_found(self) -> None:
        self.apigw.delete_usage_plan_key(usagePlanId=self.plan, keyId=self.key)
        with self.assertRaises(ClientError) as e:
            self.apigw.delete_usage_plan_key(usagePlanId=self.plan, keyId=self.key)
        self.assertEqual((error_code(e.exception), status(e.exception)), ("NotFoundException", 404))

    def test_deleting_a_plan_twice_is_not_found(self) -> None:
        self.apigw.delete_usage_plan(usagePlanId=self.plan)
        with self.assertRaises(ClientError) as e:
            self.apigw.delete_usage_plan(usagePlanId=self.plan)
        self.assertEqual((error_code(e.exception), status(e.exception)), ("NotFoundException", 404))
        with self.assertRaises(ClientError) as e:
            self.apigw.delete_usage_plan_key(usagePlanId=self.plan, keyId=self.key)
        self.assertEqual(status(e.exception), 404, "its keys went with it")
