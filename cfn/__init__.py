"""CloudFormation templates read offline: the one reader and resolver of template.yaml and network.yaml.

Used by the local twin (to create the stack in the emulator), the security gates, the benchmarks and the tests, so
that all of them read the template the same way. See :mod:`cfn.template`.
"""

from cfn.template import (
    NETWORK_TEMPLATE_PATH,
    NO_VALUE,
    REPO_ROOT,
    SUB_PATTERN,
    TEMPLATE_PATH,
    FunctionConfig,
    Resolver,
    TemplateError,
    TemplateValues,
    asl_tokens,
    function_config,
    function_ids,
    load_template,
    resources_of_type,
    rule_pattern,
    specialise,
    state_machine_definition,
    state_machine_substitutions,
)

__all__ = [
    "NETWORK_TEMPLATE_PATH",
    "NO_VALUE",
    "REPO_ROOT",
    "SUB_PATTERN",
    "TEMPLATE_PATH",
    "FunctionConfig",
    "Resolver",
    "TemplateError",
    "TemplateValues",
    "asl_tokens",
    "function_config",
    "function_ids",
    "load_template",
    "resources_of_type",
    "rule_pattern",
    "specialise",
    "state_machine_definition",
    "state_machine_substitutions",
]
