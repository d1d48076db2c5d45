"""CloudWatch: alarms are evaluated as AWS documents, composite alarms, history and actions.

AWS ("Using Amazon CloudWatch alarms", "Evaluating an alarm", "Configuring how CloudWatch
alarms treat missing data", "Alarm actions"): a metric alarm compares the statistic of each of
its last EvaluationPeriods periods with its threshold and goes to ALARM when DatapointsToAlarm
of them breach; missing periods follow TreatMissingData; a composite alarm follows its
AlarmRule; a state change is recorded (DescribeAlarmHistory) and runs the actions of the new
state (SNS notification, Lambda event) unless actions are disabled.

moto 5.2.5 never evaluates an alarm (a new one is OK, "Unchecked: Initial alarm creation",
forever), lacks PutCompositeAlarm and DescribeAlarmHistory, and runs no action: against plain
moto (EMULATOR_TEST_PLAIN=1) the server tests fail; the in-process ones test this package's
patch and are skipped there.

In-process tests run moto's mock with the patch in this process (the server is a subprocess
whose clock and backends the tests cannot reach); datapoints are stamped in the middle of the
periods the evaluation looks at (period k: now-(k+1)*60 .. now-k*60), so the evaluation that
PutMetricData triggers sees them where the test means them.
"""

from __future__ import annotations

import json
import os
import unittest
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError

from emulator.tests.support import ACCOUNT, client, error_code, unique, wait_for

REGION = "us-east-1"
NS = "Tandem/Test"
DIMS = [{"Name": "HealthCheckId", "Value": "hc-1"}]


def plain() -> bool:
    return os.environ.get("EMULATOR_TEST_PLAIN") == "1"


def stamp(period_age: int, offset: float = 30.0) -> datetime:
    """A timestamp inside period `period_age` (0: the most recent) of an evaluation run now."""
    return datetime.now(timezone.utc) - timedelta(seconds=60 * period_age + offset)


class InProcess(unittest.TestCase):
    """moto's mock in this process, with emulator.cloudwatch applied."""

    def setUp(self) -> None:
        if plain():
            self.skipTest("tests this package's patch in-process; nothing to compare with plain moto")
        import boto3
        from moto import mock_aws

        from emulator import cloudwatch

        cloudwatch.apply()
        self.cwmod = cloudwatch
        self.mock = mock_aws()
        self.mock.start()
        self.addCleanup(self.mock.stop)
        cloudwatch.clear_lambda_invocations()
        self.addCleanup(cloudwatch.clear_lambda_invocations)

        def mk(service: str, region: str = REGION):
            return boto3.client(
                service, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
            )

        self.client = mk
        self.cw = mk("cloudwatch")

    # -- helpers ---------------------------------------------------------------------------

    def alarm(self, name: str | None = None, **kwargs: Any) -> str:
        name = name or unique("alarm")
        params: dict[str, Any] = {
            "AlarmName": name,
            "Namespace": NS,
            "MetricName": "Value",
            "Dimensions": DIMS,
            "Statistic": "Maximum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 10.0,
            "ComparisonOperator": "GreaterThanThreshold",
        }
        params.update(kwargs)
        self.cw.put_metric_alarm(**params)
        return name

    def put(self, by_period: dict[int, list[float]], metric: str = "Value", dims: list[dict[str, str]] | None = None, namespace: str = NS) -> None:
        data = [
            {"MetricName": metric, "Dimensions": DIMS if dims is None else dims, "Value": v, "Timestamp": stamp(age)}
            for age, values in by_period.items()
            for v in values
        ]
        self.cw.put_metric_data(Namespace=namespace, MetricData=data)

    def describe(self, name: str) -> dict[str, Any]:
        found = self.cw.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        alarms = found["MetricAlarms"] + found["CompositeAlarms"]
        self.assertEqual(len(alarms), 1, found)
        return alarms[0]

    def state(self, name: str) -> str:
        return self.describe(name)["StateValue"]

    def history(self, name: str, composite: bool = False, **kwargs: Any) -> list[dict[str, Any]]:
        types = ["CompositeAlarm"] if composite else ["MetricAlarm"]
        return self.cw.describe_alarm_history(AlarmName=name, AlarmTypes=types, **kwargs)["AlarmHistoryItems"]

    def topic_with_queue(self) -> tuple[str, str]:
        sns, sqs = self.client("sns"), self.client("sqs")
        topic = sns.create_topic(Name=unique("alerts"))["TopicArn"]
        queue = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        return topic, queue

    def notifications(self, queue: str) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        out = []
        while True:
            got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for m in got:
                envelope = json.loads(m["Body"])
                out.append({"Subject": envelope.get("Subject"), "Message": json.loads(envelope["Message"])})
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])

    def function(self) -> str:
        iam, lam = self.client("iam"), self.client("lambda")
        role = iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        return lam.create_function(
            FunctionName=unique("decider"),
            Runtime="provided.al2023",
            Role=role,
            Handler="bootstrap",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        )["FunctionArn"]


class NewAlarms(InProcess):
    def test_a_new_alarm_starts_insufficient_data_and_is_evaluated(self) -> None:
        quiet = self.alarm(TreatMissingData="missing")
        self.assertEqual(self.state(quiet), "INSUFFICIENT_DATA")
        self.assertEqual(self.describe(quiet)["StateReason"], "Unchecked: Initial alarm creation")
        ok = self.alarm(TreatMissingData="notBreaching")
        self.assertEqual(self.state(ok), "OK")
        hist = self.history(ok)
        self.assertEqual([h["HistoryItemType"] for h in hist], ["StateUpdate", "ConfigurationUpdate"])
        self.assertEqual(hist[1]["HistorySummary"], f'Alarm "{ok}" created')
        self.assertEqual(hist[0]["HistorySummary"], "Alarm updated from INSUFFICIENT_DATA to OK")

    def test_an_update_keeps_the_state_and_is_re_evaluated(self) -> None:
        name = self.alarm(TreatMissingData="notBreaching")
        self.put({0: [50.0]})
        self.assertEqual(self.state(name), "ALARM")
        transitioned = self.describe(name)["StateUpdatedTimestamp"]
        self.alarm(name, TreatMissingData="notBreaching", AlarmDescription="new words")
        alarm = self.describe(name)
        self.assertEqual((alarm["StateValue"], alarm["StateUpdatedTimestamp"]), ("ALARM", transitioned))
        self.alarm(name, TreatMissingData="notBreaching", Threshold=100.0)
        self.assertEqual(self.state(name), "OK")
        summaries = [h["HistorySummary"] for h in self.history(name, HistoryItemType="ConfigurationUpdate")]
        self.assertEqual(summaries, [f'Alarm "{name}" updated', f'Alarm "{name}" updated', f'Alarm "{name}" created'])


class Statistics(InProcess):
    def test_each_statistic_of_a_period(self) -> None:
        # One period holding 1, 5, 9: Minimum 1, Maximum 9, Average 5, Sum 15, SampleCount 3.
        expected = {"Minimum": 1.0, "Maximum": 9.0, "Average": 5.0, "Sum": 15.0, "SampleCount": 3.0}
        names = {}
        for stat, value in expected.items():
            names[(stat, "below")] = self.alarm(Statistic=stat, Threshold=value - 0.5)
            names[(stat, "above")] = self.alarm(Statistic=stat, Threshold=value + 0.5)
        self.put({0: [1.0, 5.0, 9.0], 2: [100.0]})  # period 2 is outside the evaluation
        for stat in expected:
            self.assertEqual(self.state(names[(stat, "below")]), "ALARM", stat)
            self.assertEqual(self.state(names[(stat, "above")]), "OK", stat)

    def test_statistic_values_and_percentiles(self) -> None:
        avg = self.alarm(Statistic="Average", Threshold=4.0)
        self.cw.put_metric_data(
            Namespace=NS,
            MetricData=[
                {
                    "MetricName": "Value",
                    "Dimensions": DIMS,
                    "Timestamp": stamp(0),
                    "StatisticValues": {"SampleCount": 4, "Sum": 20.0, "Minimum": 1.0, "Maximum": 9.0},
                }
            ],
        )
        self.assertEqual(self.state(avg), "ALARM")  # 20 / 4 = 5 > 4
        params = {
            "AlarmName": unique("p90"),
            "Namespace": NS,
            "MetricName": "Lat",
            "Dimensions": DIMS,
            "ExtendedStatistic": "p90",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 8.5,
            "ComparisonOperator": "GreaterThanThreshold",
        }
        self.cw.put_metric_alarm(**params)
        self.put({0: [float(v) for v in range(1, 11)]}, metric="Lat")  # p90 of 1..10 is 9
        self.assertEqual(self.state(params["AlarmName"]), "ALARM")

    def test_only_the_metric_with_exactly_these_dimensions_counts(self) -> None:
        name = self.alarm(TreatMissingData="missing")
        self.put({0: [50.0]}, dims=DIMS + [{"Name": "Extra", "Value": "x"}])
        self.put({0: [50.0]}, dims=[{"Name": "HealthCheckId", "Value": "hc-other"}])
        self.put({0: [50.0]}, namespace="Other/Namespace")
        self.assertEqual(self.state(name), "INSUFFICIENT_DATA")
        self.put({0: [50.0]}, dims=list(reversed(DIMS)))
        self.assertEqual(self.state(name), "ALARM")


class Comparisons(InProcess):
    def test_each_comparison_operator_at_and_around_the_threshold(self) -> None:
        cases = {
            # operator: (state at 5 == threshold, state at 6, state at 4)
            "GreaterThanThreshold": ("OK", "ALARM", "OK"),
            "GreaterThanOrEqualToThreshold": ("ALARM", "ALARM", "OK"),
            "LessThanThreshold": ("OK", "OK", "ALARM"),
            "LessThanOrEqualToThreshold": ("ALARM", "OK", "ALARM"),
        }
        for operator, states in cases.items():
            for value, want in zip((5.0, 6.0, 4.0), states):
                with self.subTest(operator=operator, value=value):
                    metric = unique("m")
                    name = self.alarm(MetricName=metric, ComparisonOperator=operator, Threshold=5.0)
                    self.put({0: [value]}, metric=metric)
                    self.assertEqual(self.state(name), want)

    def test_the_reason_names_the_datapoint_and_the_threshold(self) -> None:
        name = self.alarm(Statistic="Sum", Threshold=0.0)
        self.put({0: [2.0]})
        alarm = self.describe(name)
        self.assertRegex(
            alarm["StateReason"],
            r"^Threshold Crossed: 1 datapoint \[2\.0 \(\d\d/\d\d/\d\d \d\d:\d\d:\d\d\)\] was greater than the threshold \(0\.0\)\.$",
        )
        data = json.loads(alarm["StateReasonData"])
        self.assertEqual((data["version"], data["statistic"], data["period"], data["threshold"]), ("1.0", "Sum", 60, 0.0))
        self.assertEqual(data["recentDatapoints"], [2.0])
        self.assertEqual(data["evaluatedDatapoints"][0]["value"], 2.0)
        self.assertEqual(data["evaluatedDatapoints"][0]["sampleCount"], 1.0)
        self.assertRegex(data["queryDate"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


class MOutOfN(InProcess):
    def test_three_of_five_breaching_datapoints_alarm(self) -> None:
        # The Aurora lag alarm's shape: Maximum > 1000 in 3 of 5 minutes.
        name = self.alarm(Threshold=1000.0, EvaluationPeriods=5, DatapointsToAlarm=3, TreatMissingData="notBreaching")
        self.put({0: [1500.0], 1: [200.0], 2: [1200.0], 3: [100.0], 4: [50.0]})
        self.assertEqual(self.state(name), "OK")  # 2 of 5
        self.put({3: [2000.0]})
        alarm = self.describe(name)
        self.assertEqual(alarm["StateValue"], "ALARM")
        self.assertIn("3 out of the last 5 datapoints", alarm["StateReason"])
        self.assertIn("(minimum 3 datapoints for OK -> ALARM transition)", alarm["StateReason"])
        self.assertEqual(len(json.loads(alarm["StateReasonData"])["evaluatedDatapoints"]), 5)

    def test_datapoints_older_than_the_evaluation_periods_do_not_count(self) -> None:
        name = self.alarm(Threshold=1.0, EvaluationPeriods=2, DatapointsToAlarm=2, TreatMissingData="notBreaching")
        self.put({0: [5.0], 2: [5.0], 3: [5.0]})
        self.assertEqual(self.state(name), "OK")
        self.put({1: [5.0]})
        self.assertEqual(self.state(name), "ALARM")

    def test_without_datapoints_to_alarm_every_period_must_breach(self) -> None:
        name = self.alarm(Threshold=1.0, EvaluationPeriods=3, TreatMissingData="notBreaching")
        self.put({0: [5.0], 1: [5.0], 2: [0.0]})
        self.assertEqual(self.state(name), "OK")
        self.put({2: [7.0]})  # Maximum of period 2 is now 7
        self.assertEqual(self.state(name), "ALARM")


class Backfill(InProcess):
    """`tandem failover` publishes the decision metric for the last N minutes at once (one
    PutMetricData, datapoints stamped now-(N-1) min ... now; CloudWatch accepts datapoints up
    to two weeks old): the evaluation that call triggers places each one by its timestamp, so
    an N-of-N alarm fires at once instead of N minutes later."""

    def decision_alarm(self) -> str:
        # The controller's decision alarm: PrimaryDown Maximum >= 1 for 3 of 3 minutes.
        return self.alarm(
            MetricName="PrimaryDown",
            Statistic="Maximum",
            Threshold=1.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            EvaluationPeriods=3,
            DatapointsToAlarm=3,
            TreatMissingData="notBreaching",
        )

    def backfill(self, minutes_ago: list[int]) -> None:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        self.cw.put_metric_data(
            Namespace=NS,
            MetricData=[
                {"MetricName": "PrimaryDown", "Dimensions": DIMS, "Value": 1.0, "Timestamp": now - timedelta(minutes=m)}
                for m in minutes_ago
            ],
        )

    def test_backfilled_minutes_fire_an_n_of_n_alarm_at_once(self) -> None:
        name = self.decision_alarm()
        self.assertEqual(self.state(name), "OK")
        self.backfill([2, 1, 0])
        alarm = self.describe(name)
        self.assertEqual(alarm["StateValue"], "ALARM", alarm["StateReason"])
        self.assertIn("3 out of the last 3 datapoints", alarm["StateReason"])

    def test_fewer_backfilled_minutes_than_the_periods_do_not_fire(self) -> None:
        name = self.decision_alarm()
        self.backfill([1, 0])
        self.assertEqual(self.state(name), "OK")
        # Minutes older than the evaluation periods do not count either.
        self.backfill([4, 3])
        self.assertEqual(self.state(name), "OK")
        self.backfill([2])
        self.assertEqual(self.state(name), "ALARM")


class MissingData(InProcess):
    def health_alarm(self, missing: str, namespace: str = NS) -> str:
        # The health-check alarm's shape: Minimum < 1 for 2 of 2 minutes.
        return self.alarm(
            Namespace=namespace,
            Statistic="Minimum",
            Threshold=1.0,
            ComparisonOperator="LessThanThreshold",
            EvaluationPeriods=2,
            DatapointsToAlarm=2,
            TreatMissingData=missing,
        )

    def test_no_data_under_each_treatment(self) -> None:
        self.assertEqual(self.state(self.health_alarm("breaching")), "ALARM")
        self.assertEqual(self.state(self.health_alarm("notBreaching")), "OK")
        self.assertEqual(self.state(self.health_alarm("ignore")), "INSUFFICIENT_DATA")
        missing = self.health_alarm("missing")
        alarm = self.describe(missing)
        self.assertEqual(alarm["StateValue"], "INSUFFICIENT_DATA")
        no_treatment = self.alarm(Statistic="Minimum", Threshold=1.0, ComparisonOperator="LessThanThreshold")
        self.assertEqual(self.state(no_treatment), "INSUFFICIENT_DATA")  # default: missing
        self.assertEqual([h["HistoryItemType"] for h in self.history(missing)], ["ConfigurationUpdate"])

    def test_breaching_reason_when_nothing_was_received(self) -> None:
        alarm = self.describe(self.health_alarm("breaching"))
        self.assertEqual(
            alarm["StateReason"],
            "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints were treated as [Breaching].",
        )

    def test_a_missing_period_completes_a_breach_only_when_missing_data_breaches(self) -> None:
        names = {m: self.health_alarm(m) for m in ("breaching", "notBreaching", "ignore", "missing")}
        self.put({0: [0.0]})  # the newest minute fails, the one before is missing
        self.assertEqual(self.state(names["breaching"]), "ALARM")
        self.assertEqual(self.state(names["notBreaching"]), "OK")
        # ignore: one breach and one missing could go either way: the state holds.
        self.assertEqual(self.state(names["ignore"]), "INSUFFICIENT_DATA")
        # missing: the datapoints present decide.
        self.assertEqual(self.state(names["missing"]), "ALARM")

    def test_ignore_keeps_the_state_and_healthy_data_decides(self) -> None:
        name = self.health_alarm("ignore")
        self.cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
        self.put({5: [1.0]})  # outside the evaluation: still no data
        self.assertEqual(self.state(name), "ALARM")
        self.put({0: [1.0]})  # 0 breaching + 1 missing can no longer reach 2 of 2
        self.assertEqual(self.state(name), "OK")

    def test_dynamodb_metrics_always_ignore_missing_data(self) -> None:
        name = self.alarm(
            Namespace="AWS/DynamoDB",
            MetricName="ReplicationLatency",
            Dimensions=[{"Name": "TableName", "Value": "t"}, {"Name": "ReceivingRegion", "Value": "us-east-2"}],
            Statistic="Average",
            Threshold=5000.0,
            EvaluationPeriods=5,
            DatapointsToAlarm=3,
            TreatMissingData="notBreaching",
        )
        self.assertEqual(self.state(name), "INSUFFICIENT_DATA")

    def test_healthy_data_is_ok_under_every_treatment(self) -> None:
        names = [self.health_alarm(m) for m in ("breaching", "notBreaching", "ignore", "missing")]
        self.put({0: [1.0], 1: [1.0]})
        for name in names:
            self.assertEqual(self.state(name), "OK", name)


class MetricMath(InProcess):
    def math_alarm(self, expression: str, threshold: float = 1.0, operator: str = "GreaterThanOrEqualToThreshold", **kwargs: Any) -> str:
        name = unique("decision")

        def stat(qid: str, metric: str, stat: str) -> dict[str, Any]:
            return {
                "Id": qid,
                "MetricStat": {"Metric": {"Namespace": NS, "MetricName": metric, "Dimensions": DIMS}, "Period": 60, "Stat": stat},
                "ReturnData": False,
            }

        self.cw.put_metric_alarm(
            AlarmName=name,
            EvaluationPeriods=kwargs.pop("EvaluationPeriods", 1),
            Threshold=threshold,
            ComparisonOperator=operator,
            Metrics=[
                stat("health", "Health", "Minimum"),
                stat("lag", "Lag", "Maximum"),
                {"Id": "decision", "Expression": expression, "Label": "failover decision", "ReturnData": True},
            ],
            **kwargs,
        )
        return name

    def test_if_and_decision(self) -> None:
        # Fail over when the primary is unhealthy AND replication has caught up.
        name = self.math_alarm("IF(health < 1 AND lag <= 1000, 1, 0)", TreatMissingData="notBreaching")
        self.assertEqual(self.state(name), "OK")  # no data: IF gives nothing, missing is not breaching
        self.put({0: [0.0]}, metric="Health")
        self.put({0: [5000.0]}, metric="Lag")
        self.assertEqual(self.state(name), "OK")  # unhealthy but lagging
        self.put({0: [1.0]}, metric="Health")
        self.put({0: [800.0]}, metric="Lag")
        self.assertEqual(self.state(name), "OK")  # Minimum health 0, Maximum lag 5000 still

    def test_if_and_decision_alarms_when_both_hold(self) -> None:
        name = self.math_alarm("IF(health < 1 AND lag <= 1000, 1, 0)", TreatMissingData="notBreaching")
        self.put({0: [0.0]}, metric="Health")
        self.put({0: [300.0]}, metric="Lag")
        alarm = self.describe(name)
        self.assertEqual(alarm["StateValue"], "ALARM")
        data = json.loads(alarm["StateReasonData"])
        self.assertEqual(data["recentDatapoints"], [1.0])
        self.assertNotIn("statistic", data)

    def test_fill_makes_a_missing_metric_count(self) -> None:
        name = self.math_alarm("IF(FILL(health, 0) < 1, 1, 0)", TreatMissingData="missing", EvaluationPeriods=2)
        self.assertEqual(self.state(name), "ALARM")  # FILL gives 0 for both periods
        self.put({0: [1.0], 1: [1.0]}, metric="Health")
        self.assertEqual(self.state(name), "OK")

    def test_min_max_of_ids_and_arithmetic(self) -> None:
        both = self.math_alarm("MAX([health, lag / 1000])", threshold=2.0, operator="GreaterThanThreshold")
        self.put({0: [1.0]}, metric="Health")
        self.put({0: [3000.0]}, metric="Lag")
        self.assertEqual(self.state(both), "ALARM")  # max(1, 3) = 3 > 2
        low = self.math_alarm("MIN([health, lag]) * 2 + 1", threshold=3.0, operator="LessThanThreshold")
        self.assertEqual(self.state(low), "OK")  # min(1, 3000) * 2 + 1 = 3, not < 3
        self.put({0: [0.0]}, metric="Health")
        self.assertEqual(self.state(low), "ALARM")
        self.assertEqual(self.state(both), "ALARM")

    def test_an_unsupported_expression_leaves_the_alarm_alone(self) -> None:
        name = self.math_alarm("ANOMALY_DETECTION_BAND(health, 2)")
        self.put({0: [0.0]}, metric="Health")
        self.assertEqual(self.state(name), "INSUFFICIENT_DATA")


class ExpressionEvaluator(unittest.TestCase):
    """The metric math evaluator alone (no moto)."""

    def run_expr(self, text: str, series: dict[str, list[float | None]], n: int = 3):
        from emulator.cloudwatch import evaluate_expression, parse_expression

        return evaluate_expression(parse_expression(text), n, lambda i: series[i])

    def test_arithmetic_precedence_and_missing_points(self) -> None:
        s = {"a": [1.0, None, 3.0], "b": [2.0, 2.0, 2.0]}
        self.assertEqual(self.run_expr("a + b * 2", s), [5.0, None, 7.0])
        self.assertEqual(self.run_expr("(a + b) * 2", s), [6.0, None, 10.0])
        self.assertEqual(self.run_expr("-a + 10 / b", s), [4.0, None, 2.0])
        self.assertEqual(self.run_expr("a / 0", s), [None, None, None])
        self.assertEqual(self.run_expr("2 ^ 3", s), 8.0)

    def test_comparisons_logic_and_if(self) -> None:
        s = {"a": [0.0, 1.0, 2.0], "b": [5.0, 5.0, None]}
        self.assertEqual(self.run_expr("a >= 1 && b == 5", s), [0.0, 1.0, None])
        self.assertEqual(self.run_expr("a > 1 OR b != 5", s), [0.0, 0.0, None])
        self.assertEqual(self.run_expr("NOT a", s), [1.0, 0.0, 0.0])
        self.assertEqual(self.run_expr("IF(a, 10, 20)", s), [20.0, 10.0, 10.0])
        self.assertEqual(self.run_expr("IF(a > 0, b)", s), [None, 5.0, None])

    def test_fill_min_max(self) -> None:
        s = {"a": [None, 4.0, None], "b": [1.0, 7.0, 2.0]}
        self.assertEqual(self.run_expr("FILL(a, 0)", s), [0.0, 4.0, 0.0])
        self.assertEqual(self.run_expr("FILL(a, REPEAT)", s), [None, 4.0, 4.0])
        self.assertEqual(self.run_expr("MAX([a, b])", s), [1.0, 7.0, 2.0])
        self.assertEqual(self.run_expr("MIN([a, b])", s), [1.0, 4.0, 2.0])
        self.assertEqual(self.run_expr("MAX(b)", s), 7.0)
        self.assertEqual(self.run_expr("MIN(a, b)", s), [1.0, 4.0, 2.0])

    def test_anything_else_is_refused_not_run(self) -> None:
        from emulator.cloudwatch import ExpressionError

        for text in ("__import__('os').system('true')", "a.b", "LOG(a)", "a +", "IF(a)", "(a"):
            with self.subTest(text=text), self.assertRaises(ExpressionError):
                self.run_expr(text, {"a": [1.0, 1.0, 1.0]})


class CompositeRules(unittest.TestCase):
    """The AlarmRule parser and evaluator alone."""

    def check(self, rule: str, states: dict[str, str]) -> bool:
        from emulator.cloudwatch import evaluate_rule, parse_rule

        return evaluate_rule(parse_rule(rule), lambda ref: states.get(ref.split(":alarm:")[-1]))

    def test_functions_operators_and_parentheses(self) -> None:
        s = {"a": "ALARM", "b": "OK", "c": "INSUFFICIENT_DATA", "d e": "ALARM"}
        self.assertTrue(self.check('ALARM("a") AND OK(b)', s))
        self.assertFalse(self.check("ALARM(a) AND ALARM(b)", s))
        self.assertTrue(self.check("ALARM(b) OR INSUFFICIENT_DATA(c)", s))
        self.assertTrue(self.check("ALARM(a) AND NOT ALARM(b)", s))
        self.assertFalse(self.check("NOT (ALARM(a) OR ALARM(b))", s))
        self.assertTrue(self.check("(ALARM(b) OR ALARM(a)) AND OK(b)", s))
        self.assertTrue(self.check('ALARM("d e")', s))
        self.assertTrue(self.check("ALARM(arn:aws:cloudwatch:us-east-1:123456789012:alarm:a)", s))
        self.assertTrue(self.check("TRUE", s))
        self.assertFalse(self.check("FALSE OR FALSE", s))
        self.assertFalse(self.check("ALARM(missing-alarm)", s))

    def test_invalid_rules(self) -> None:
        from emulator.cloudwatch import RuleError, parse_rule

        for rule in ("ALARM(a) AND", "ALARM()", "BROKEN(a)", "ALARM(a) OK(b)", "(ALARM(a)", 'ALARM("a)', "ALARM a"):
            with self.subTest(rule=rule), self.assertRaises(RuleError):
                parse_rule(rule)


class CompositeAlarms(InProcess):
    def children(self) -> tuple[str, str]:
        a = self.alarm(TreatMissingData="notBreaching")
        b = self.alarm(TreatMissingData="notBreaching")
        return a, b

    def test_put_composite_alarm_follows_its_children(self) -> None:
        a, b = self.children()
        name = unique("composite")
        self.cw.put_composite_alarm(AlarmName=name, AlarmRule=f'ALARM("{a}") AND NOT ALARM({b})')
        composite = self.describe(name)
        self.assertEqual(composite["AlarmRule"], f'ALARM("{a}") AND NOT ALARM({b})')
        self.assertEqual(composite["StateValue"], "OK")
        self.cw.set_alarm_state(AlarmName=a, StateValue="ALARM", StateReason="test")
        composite = self.describe(name)
        self.assertEqual(composite["StateValue"], "ALARM")
        reason = json.loads(composite["StateReasonData"])
        self.assertEqual(reason["triggeringAlarms"][0]["arn"], f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{a}")
        self.assertEqual(reason["triggeringAlarms"][0]["state"]["value"], "ALARM")
        self.cw.set_alarm_state(AlarmName=b, StateValue="ALARM", StateReason="test")
        self.assertEqual(self.state(name), "OK")
        summaries = [h["HistorySummary"] for h in self.history(name, composite=True, HistoryItemType="StateUpdate")]
        self.assertEqual(
            summaries,
            ["Alarm updated from ALARM to OK", "Alarm updated from OK to ALARM", "Alarm updated from INSUFFICIENT_DATA to OK"],
        )

    def test_child_metric_data_moves_the_composite(self) -> None:
        a, _b = self.children()
        name = unique("composite")
        self.cw.put_composite_alarm(AlarmName=name, AlarmRule=f"ALARM({a})")
        self.put({0: [50.0]})  # both children breach
        self.assertEqual(self.state(name), "ALARM")

    def test_composite_of_composite_and_true(self) -> None:
        a, b = self.children()
        inner = unique("inner")
        outer = unique("outer")
        self.cw.put_composite_alarm(AlarmName=inner, AlarmRule=f"ALARM({a}) OR ALARM({b})")
        self.cw.put_composite_alarm(AlarmName=outer, AlarmRule=f"ALARM({inner}) AND TRUE")
        self.assertEqual(self.state(outer), "OK")
        self.cw.set_alarm_state(AlarmName=b, StateValue="ALARM", StateReason="test")
        self.assertEqual((self.state(inner), self.state(outer)), ("ALARM", "ALARM"))
        always = unique("always")
        self.cw.put_composite_alarm(AlarmName=always, AlarmRule="TRUE")
        self.assertEqual(self.state(always), "ALARM")

    def test_rule_errors_and_unknown_children(self) -> None:
        for rule in ("ALARM(a) AND", f"ALARM({unique('nope')})"):
            with self.subTest(rule=rule), self.assertRaises(ClientError) as caught:
                self.cw.put_composite_alarm(AlarmName=unique("c"), AlarmRule=rule)
            self.assertEqual(error_code(caught.exception), "ValidationError")

    def test_describe_alarms_types_children_and_parents(self) -> None:
        a, b = self.children()
        name = unique("composite")
        self.cw.put_composite_alarm(AlarmName=name, AlarmRule=f"ALARM({a}) OR OK({b})")
        default = self.cw.describe_alarms(AlarmNames=[a, b, name])
        self.assertEqual(sorted(x["AlarmName"] for x in default["MetricAlarms"]), sorted([a, b]))
        self.assertEqual(default["CompositeAlarms"], [])
        only = self.cw.describe_alarms(AlarmNames=[a, name], AlarmTypes=["CompositeAlarm"])
        self.assertEqual(([x["AlarmName"] for x in only["CompositeAlarms"]], only["MetricAlarms"]), ([name], []))
        children = self.cw.describe_alarms(ChildrenOfAlarmName=name)
        self.assertEqual(sorted(x["AlarmName"] for x in children["MetricAlarms"]), sorted([a, b]))
        parents = self.cw.describe_alarms(ParentsOfAlarmName=a, AlarmTypes=["CompositeAlarm"])
        self.assertEqual([x["AlarmName"] for x in parents["CompositeAlarms"]], [name])
        by_state = self.cw.describe_alarms(AlarmNames=[a, b], StateValue="ALARM")
        self.assertEqual(by_state["MetricAlarms"], [])

    def test_set_alarm_state_on_a_composite_holds_until_a_child_changes(self) -> None:
        a, _b = self.children()
        name = unique("composite")
        self.cw.put_composite_alarm(AlarmName=name, AlarmRule=f"ALARM({a})")
        self.cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="drill")
        self.cwmod.evaluate_region(self.backend())
        self.assertEqual(self.state(name), "ALARM")
        self.cw.set_alarm_state(AlarmName=a, StateValue="INSUFFICIENT_DATA", StateReason="test")
        self.assertEqual(self.state(name), "OK")

    def backend(self):
        from moto.cloudwatch.models import cloudwatch_backends

        return cloudwatch_backends[ACCOUNT][REGION]


class Actions(InProcess):
    def test_sns_notification_on_each_state_change(self) -> None:
        topic, queue = self.topic_with_queue()
        name = self.alarm(
            Statistic="Sum",
            Threshold=0.0,
            TreatMissingData="notBreaching",
            AlarmActions=[topic],
            OKActions=[topic],
            AlarmDescription="errors",
        )
        self.put({0: [3.0]})
        got = self.notifications(queue)
        self.assertEqual([g["Message"]["NewStateValue"] for g in got], ["OK", "ALARM"])
        self.assertEqual(got[1]["Subject"], f'ALARM: "{name}" in US East (N. Virginia)')
        msg = got[1]["Message"]
        self.assertEqual(
            {k: msg[k] for k in ("AlarmName", "AlarmDescription", "AWSAccountId", "OldStateValue", "Region", "AlarmArn")},
            {
                "AlarmName": name,
                "AlarmDescription": "errors",
                "AWSAccountId": ACCOUNT,
                "OldStateValue": "OK",
                "Region": "US East (N. Virginia)",
                "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
            },
        )
        self.assertTrue(msg["NewStateReason"].startswith("Threshold Crossed: 1 datapoint [3.0"))
        self.assertRegex(msg["StateChangeTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
        self.assertEqual(msg["AlarmActions"], [topic])
        trigger = msg["Trigger"]
        self.assertEqual(
            {k: trigger[k] for k in ("MetricName", "Namespace", "StatisticType", "Statistic", "Period", "EvaluationPeriods", "ComparisonOperator", "Threshold", "TreatMissingData")},
            {
                "MetricName": "Value",
                "Namespace": NS,
                "StatisticType": "Statistic",
                "Statistic": "SUM",
                "Period": 60,
                "EvaluationPeriods": 1,
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": 0.0,
                "TreatMissingData": "notBreaching",
            },
        )
        self.assertEqual(trigger["Dimensions"], [{"value": "hc-1", "name": "HealthCheckId"}])
        actions = self.history(name, HistoryItemType="Action")
        self.assertEqual(actions[0]["HistorySummary"], f"Successfully executed action {topic}")
        self.assertEqual(json.loads(actions[0]["HistoryData"])["actionState"], "Succeeded")

    def test_no_repeat_notification_while_the_state_holds(self) -> None:
        topic, queue = self.topic_with_queue()
        self.alarm(Statistic="Sum", Threshold=0.0, TreatMissingData="notBreaching", AlarmActions=[topic])
        self.put({0: [3.0]})
        self.put({0: [4.0]})
        self.assertEqual(len(self.notifications(queue)), 1)

    def test_set_alarm_state_runs_the_actions_and_evaluation_restores(self) -> None:
        topic, queue = self.topic_with_queue()
        name = self.alarm(TreatMissingData="notBreaching", AlarmActions=[topic], OKActions=[topic])
        self.notifications(queue)
        self.cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="drill", StateReasonData='{"drill": true}')
        alarm = self.describe(name)
        self.assertEqual((alarm["StateValue"], alarm["StateReason"], alarm["StateReasonData"]), ("ALARM", "drill", '{"drill": true}'))
        self.assertEqual([g["Message"]["NewStateValue"] for g in self.notifications(queue)], ["ALARM"])
        from moto.cloudwatch.models import cloudwatch_backends

        self.cwmod.evaluate_region(cloudwatch_backends[ACCOUNT][REGION])
        self.assertEqual(self.state(name), "OK")
        self.assertEqual([g["Message"]["NewStateValue"] for g in self.notifications(queue)], ["OK"])

    def test_lambda_action_is_recorded_with_the_aws_event(self) -> None:
        function = self.function()
        name = self.alarm(Statistic="Minimum", Threshold=1.0, ComparisonOperator="LessThanThreshold", AlarmActions=[function], AlarmDescription="decide")
        self.put({0: [0.0]})
        self.assertEqual(self.state(name), "ALARM")
        calls = self.cwmod.lambda_invocations()
        self.assertEqual(len(calls), 1, calls)
        call = calls[0]
        self.assertEqual((call["region"], call["functionArn"], call["alarmName"]), (REGION, function, name))
        event = call["payload"]
        self.assertEqual(
            {k: event[k] for k in ("source", "alarmArn", "accountId", "region")},
            {"source": "aws.cloudwatch", "alarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}", "accountId": ACCOUNT, "region": REGION},
        )
        data = event["alarmData"]
        self.assertEqual(data["alarmName"], name)
        self.assertEqual((data["state"]["value"], data["previousState"]["value"]), ("ALARM", "INSUFFICIENT_DATA"))
        self.assertIn("reasonData", data["state"])
        self.assertEqual(data["configuration"]["description"], "decide")
        metric = data["configuration"]["metrics"][0]["metricStat"]
        self.assertEqual(metric["metric"], {"namespace": NS, "name": "Value", "dimensions": {"HealthCheckId": "hc-1"}})
        self.assertEqual((metric["period"], metric["stat"]), (60, "Minimum"))
        self.assertEqual(self.cwmod.lambda_invocations(REGION), calls)
        self.assertEqual(self.cwmod.lambda_invocations("us-east-2"), [])

    def test_composite_alarm_lambda_event_has_the_rule(self) -> None:
        function = self.function()
        child = self.alarm(TreatMissingData="notBreaching")
        name = unique("decision")
        self.cw.put_composite_alarm(AlarmName=name, AlarmRule=f"ALARM({child})", AlarmActions=[function])
        self.cw.set_alarm_state(AlarmName=child, StateValue="ALARM", StateReason="test")
        calls = [c for c in self.cwmod.lambda_invocations() if c["alarmName"] == name]
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0]["payload"]["alarmData"]["configuration"]["alarmRule"], f"ALARM({child})")
        self.assertEqual(calls[0]["payload"]["alarmData"]["state"]["value"], "ALARM")

    def test_an_unknown_function_is_a_failed_action(self) -> None:
        missing = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{unique('gone')}"
        name = self.alarm(TreatMissingData="breaching", AlarmActions=[missing])
        self.assertEqual(self.state(name), "ALARM")
        self.assertEqual(self.cwmod.lambda_invocations(), [])
        action = self.history(name, HistoryItemType="Action")[0]
        self.assertEqual(action["HistorySummary"], f"Failed to execute action {missing}")
        self.assertEqual(json.loads(action["HistoryData"])["actionState"], "Failed")

    def test_actions_disabled_change_state_without_actions(self) -> None:
        topic, queue = self.topic_with_queue()
        function = self.function()
        name = self.alarm(Statistic="Sum", Threshold=0.0, TreatMissingData="notBreaching", ActionsEnabled=False, AlarmActions=[topic, function], OKActions=[topic])
        self.put({0: [3.0]})
        self.assertEqual(self.state(name), "ALARM")
        self.assertEqual(self.notifications(queue), [])
        self.assertEqual(self.cwmod.lambda_invocations(), [])
        self.assertEqual(self.history(name, HistoryItemType="Action"), [])

    def test_disable_and_enable_alarm_actions(self) -> None:
        topic, queue = self.topic_with_queue()
        name = self.alarm(TreatMissingData="notBreaching", AlarmActions=[topic], OKActions=[topic])
        self.notifications(queue)
        self.cw.disable_alarm_actions(AlarmNames=[name])
        self.assertFalse(self.describe(name)["ActionsEnabled"])
        self.cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="quiet")
        self.assertEqual(self.notifications(queue), [])
        self.cw.enable_alarm_actions(AlarmNames=[name])
        self.cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="loud")
        self.assertEqual([g["Message"]["NewStateValue"] for g in self.notifications(queue)], ["OK"])


class History(InProcess):
    def test_state_update_items_as_aws(self) -> None:
        name = self.alarm(TreatMissingData="notBreaching")
        self.put({0: [50.0]})
        items = self.history(name)
        self.assertEqual([i["HistoryItemType"] for i in items], ["StateUpdate", "StateUpdate", "ConfigurationUpdate"])
        newest = items[0]
        self.assertEqual((newest["AlarmName"], newest["AlarmType"]), (name, "MetricAlarm"))
        self.assertEqual(newest["HistorySummary"], "Alarm updated from OK to ALARM")
        data = json.loads(newest["HistoryData"])
        self.assertEqual(data["version"], "1.0")
        self.assertEqual((data["oldState"]["stateValue"], data["newState"]["stateValue"]), ("OK", "ALARM"))
        self.assertEqual(data["newState"]["stateReasonData"]["recentDatapoints"], [50.0])
        self.assertTrue(data["newState"]["stateReason"].startswith("Threshold Crossed"))
        oldest_first = self.history(name, ScanBy="TimestampAscending")
        self.assertEqual([i["HistoryItemType"] for i in oldest_first], ["ConfigurationUpdate", "StateUpdate", "StateUpdate"])
        self.assertLessEqual(oldest_first[0]["Timestamp"], oldest_first[-1]["Timestamp"])

    def test_history_outlives_the_alarm_and_pages(self) -> None:
        name = self.alarm(TreatMissingData="notBreaching")
        for state in ("ALARM", "OK", "ALARM"):
            self.cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")
        self.cw.delete_alarms(AlarmNames=[name])
        self.assertEqual(self.cw.describe_alarms(AlarmNames=[name])["MetricAlarms"], [])
        first = self.cw.describe_alarm_history(AlarmName=name, MaxRecords=2)
        self.assertEqual(len(first["AlarmHistoryItems"]), 2)
        rest = self.cw.describe_alarm_history(AlarmName=name, MaxRecords=10, NextToken=first["NextToken"])
        self.assertEqual(len(rest["AlarmHistoryItems"]), 3)
        self.assertNotIn("NextToken", rest)

    def test_composite_history_needs_alarm_types(self) -> None:
        child = self.alarm(TreatMissingData="notBreaching")
        name = unique("composite")
        self.cw.put_composite_alarm(AlarmName=name, AlarmRule=f"OK({child})")
        self.assertEqual(self.cw.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"], [])
        items = self.history(name, composite=True)
        self.assertEqual({i["AlarmType"] for i in items}, {"CompositeAlarm"})
        self.assertEqual(items[0]["HistorySummary"], "Alarm updated from INSUFFICIENT_DATA to ALARM")

    def test_date_filters(self) -> None:
        name = self.alarm(TreatMissingData="notBreaching")
        later = datetime.now(timezone.utc) + timedelta(minutes=5)
        self.assertEqual(self.history(name, StartDate=later), [])
        self.assertEqual(len(self.history(name, EndDate=later)), 2)


class ThroughTheServer(unittest.TestCase):
    """Through the emulator server: boto3 PutMetricData, then DescribeAlarms polled."""

    def setUp(self) -> None:
        self.cw = client("cloudwatch", REGION)

    def alarm(self, **kwargs: Any) -> str:
        name = unique("server-alarm")
        params: dict[str, Any] = {
            "AlarmName": name,
            "Namespace": NS,
            "MetricName": unique("metric"),
            "Dimensions": DIMS,
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        }
        params.update(kwargs)
        self.cw.put_metric_alarm(**params)
        self.addCleanup(self.cw.delete_alarms, AlarmNames=[name])
        self.metric = params["MetricName"]
        return name

    def state(self, name: str) -> str:
        return self.cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]

    def test_put_metric_data_moves_the_alarm(self) -> None:
        name = self.alarm()
        self.assertEqual(wait_for(lambda: self.state(name) == "OK", 10), True)
        self.cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": self.metric, "Dimensions": DIMS, "Value": 2.0}])
        self.assertTrue(wait_for(lambda: self.state(name) == "ALARM", 10), self.state(name))
        alarm = self.cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        self.assertTrue(alarm["StateReason"].startswith("Threshold Crossed: 1 datapoint [2.0"), alarm["StateReason"])
        history = self.cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
        self.assertEqual(history[0]["HistorySummary"], "Alarm updated from OK to ALARM")

    def test_the_tick_evaluates_without_new_data(self) -> None:
        # A datapoint 58 s old: ALARM at once; once it leaves the one-minute window, the tick
        # (EMULATOR_ALARM_TICK_SECONDS, default 10) brings the alarm back to OK.
        name = self.alarm()
        when = datetime.now(timezone.utc) - timedelta(seconds=58)
        self.cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": self.metric, "Dimensions": DIMS, "Value": 2.0, "Timestamp": when}])

        def summaries() -> list[str]:
            items = self.cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate", ScanBy="TimestampAscending")
            return [i["HistorySummary"] for i in items["AlarmHistoryItems"]]

        want = ["Alarm updated from INSUFFICIENT_DATA to OK", "Alarm updated from OK to ALARM", "Alarm updated from ALARM to OK"]
        self.assertEqual(wait_for(lambda: summaries() == want, 30, 0.5), True, summaries())
        self.assertEqual(self.state(name), "OK")

    def test_composite_and_sns_through_the_server(self) -> None:
        sns, sqs = client("sns", REGION), client("sqs", REGION)
        topic = sns.create_topic(Name=unique("alerts"))["TopicArn"]
        queue = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        child = self.alarm()
        name = unique("server-composite")
        self.cw.put_composite_alarm(AlarmName=name, AlarmRule=f'ALARM("{child}")', AlarmActions=[topic])
        self.addCleanup(self.cw.delete_alarms, AlarmNames=[name])
        self.cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": self.metric, "Dimensions": DIMS, "Value": 1.0}])

        def composite_state() -> str:
            return self.cw.describe_alarms(AlarmNames=[name], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"][0]["StateValue"]

        self.assertTrue(wait_for(lambda: composite_state() == "ALARM", 10), composite_state())
        got = wait_for(lambda: sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"), 10)
        self.assertTrue(got)
        message = json.loads(json.loads(got[0]["Body"])["Message"])
        self.assertEqual((message["AlarmName"], message["NewStateValue"], message["AlarmRule"]), (name, "ALARM", f'ALARM("{child}")'))

    def test_lambda_action_is_listed_on_the_control_route(self) -> None:
        import io
        import urllib.request
        import zipfile

        from .support import endpoint

        iam, lam = client("iam", REGION), client("lambda", REGION)
        role = iam.create_role(
            RoleName=unique("alarm-fn-role"),
            AssumeRolePolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
            ),
        )["Role"]["Arn"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\n")
        fn = lam.create_function(
            FunctionName=unique("alarm-fn"), Runtime="provided.al2023", Role=role, Handler="bootstrap", Code={"ZipFile": buf.getvalue()}
        )["FunctionArn"]
        # moto's /moto-api/data.json fails (500: no docker) while a function exists.
        self.addCleanup(lam.delete_function, FunctionName=fn)
        self.addCleanup(iam.delete_role, RoleName=role.rsplit("/", 1)[-1])
        name = self.alarm(AlarmActions=[fn])
        self.cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": self.metric, "Dimensions": DIMS, "Value": 1.0}])
        route = f"{endpoint()}/_emulator/cloudwatch/lambda-invocations?region={REGION}"

        def mine() -> list[dict[str, Any]]:
            with urllib.request.urlopen(route, timeout=10) as answer:
                return [i for i in json.loads(answer.read())["Invocations"] if i["alarmName"] == name]

        calls = wait_for(lambda: mine(), 10)
        self.assertTrue(calls, "the alarm's Lambda action is listed")
        self.assertEqual(calls[0]["functionArn"], fn)
        self.assertEqual(calls[0]["payload"]["alarmData"]["state"]["value"], "ALARM")
        urllib.request.urlopen(urllib.request.Request(route, method="DELETE"), timeout=10).read()
        self.assertEqual(mine(), [])


if __name__ == "__main__":
    unittest.main()
