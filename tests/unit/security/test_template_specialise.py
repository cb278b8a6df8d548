"""The template helpers the gates rely on (cfn.template): intrinsic resolution and per-deployment
specialisation."""

from __future__ import annotations

from typing import Any

import pytest

from cfn import Resolver, TemplateError, TemplateValues, specialise

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "KmsKeyArn": {"Type": "String", "Default": ""},
        "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>"},
    },
    "Conditions": {
        "CreateKmsKey": {"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]},
        "UseExistingKey": {"Fn::Not": [{"Condition": "CreateKmsKey"}]},
    },
    "Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Condition": "CreateKmsKey", "Properties": {}},
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "KmsMasterKeyId": {"Fn::If": ["CreateKmsKey", {"Fn::GetAtt": ["Key", "Arn"]}, {"Ref": "KmsKeyArn"}]},
                "Tags": [{"Key": "subnets", "Value": {"Fn::Join": [",", {"Ref": "Subnets"}]}}],
            },
        },
    },
}


def test_specialise_with_the_stack_key_keeps_the_key_and_its_reference() -> None:
    result = specialise(TEMPLATE, {"Subnets": ["subnet-a"]})

    assert "Key" in result["Resources"]
    assert result["Resources"]["Queue"]["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["Key", "Arn"]}
    assert result["Resources"]["Queue"]["Properties"]["Tags"][0]["Value"] == {"Fn::Join": [",", ["subnet-a"]]}


def test_specialise_with_an_existing_key_drops_the_conditional_key() -> None:
    result = specialise(TEMPLATE, {"Subnets": ["subnet-a"], "KmsKeyArn": "arn:aws:kms:eu-west-1:1:key/k"})

    assert "Key" not in result["Resources"]
    assert result["Resources"]["Queue"]["Properties"]["KmsMasterKeyId"] == "arn:aws:kms:eu-west-1:1:key/k"
    assert "Conditions" not in result


def test_specialise_names_a_parameter_without_value() -> None:
    with pytest.raises(TemplateError, match="Subnets"):
        specialise(TEMPLATE, {})


def test_resolve_sub_getatt_if_and_join() -> None:
    node = {
        "A": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/*"},
        "B": {"Fn::Sub": ["${X}-${Y}", {"Y": {"Ref": "Suffix"}}]},
        "C": {"Fn::If": ["On", {"Fn::GetAtt": ["Key", "Arn"]}, "off"]},
        "D": {"Fn::Join": ["-", ["a", {"Ref": "Suffix"}]]},
    }
    values = TemplateValues(
        partition="aws",
        refs={"Bucket": "b", "X": "x", "Suffix": "s"},
        attributes={"Key.Arn": "arn:key"},
        conditions={"On": True},
    )
    resolved = Resolver({}, values).resolve(node)

    assert resolved == {"A": "arn:aws:s3:::b/*", "B": "x-s", "C": "arn:key", "D": "a-s"}


def test_resolve_uses_the_placeholder_for_any_other_reference() -> None:
    values = TemplateValues(placeholder=lambda name: f"placeholder:{name}")
    node = {"Fn::Sub": "${Topic}|${Queue.Arn}"}

    assert Resolver({}, values).resolve(node) == "placeholder:Topic|placeholder:Queue.Arn"


def test_resolve_names_what_it_cannot_resolve() -> None:
    with pytest.raises(TemplateError, match="Missing"):
        Resolver({}, TemplateValues()).resolve({"Ref": "Missing"})
