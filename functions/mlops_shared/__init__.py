"""What the Lambda functions share, shipped once in the shared layer (``SharedLayer``, /opt/python in Lambda).

- ``settings``: the functions' configuration, read from the environment the template sets;
- ``arns``: the patterns their parser models check ARNs, names and S3 URIs against;
- ``cloudformation``: the answer to a CloudFormation custom-resource request;
- ``deploy_tokens``, ``code_assets``, ``pipeline_names``: the contract between the rendered pipeline definition and
  whoever deploys or runs it (the upsert function, the local runner, the renderer).

Standard library only: the renderer (with the SageMaker SDK) and the local twin import these too.
"""
