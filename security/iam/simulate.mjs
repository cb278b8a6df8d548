// Evaluate IAM requests against identity policies with @cloud-copilot/iam-simulate (AGPL-3.0: test-only, never shipped).
//
// Why a node harness: moto's IAM enforcement understands only StringEquals, so Null, Bool, ...IfExists and ForAnyValue
// conditions -- exactly what the preventive controls rely on -- need a real evaluator. pytest runs this file as a
// subprocess (tests/integration/security/iam_simulator.py).
//
// stdin:  {"cases": [{"id": str, "policies": [{"name": str, "policy": {...}}],
//                     "resourcePolicy": {...} | null,   (a key, bucket, topic or model package group policy)
//                     "request": {"principal": arn | "svc.amazonaws.com", "action": "svc:Action", "resource": arn,
//                                 "accountId": str (the resource's account), "context": {key: string | string[]}}}]}
// stdout: {"results": [{"id": str, "decision": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "Error",
//                       "denyStatements": [sid...], "ignoredContextKeys": [key...], "errors": null | {...}}]}
// A context key the action does not carry is ignored by the simulator (as by AWS) and reported in ignoredContextKeys,
// so a test can insist its request contexts are realistic.
import { runSimulation } from '@cloud-copilot/iam-simulate'

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

function denyingStatements(result) {
  const analyses = [result?.analysis?.identityAnalysis, result?.analysis?.resourceAnalysis]
  return analyses.flatMap((analysis) =>
    (analysis?.denyStatements ?? []).map((s) => s.statement?.Sid ?? s.explain?.identifier),
  )
}

async function evaluate(testCase) {
  const { request } = testCase
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.accountId },
      contextVariables: request.context ?? {},
    },
    identityPolicies: testCase.policies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: testCase.resourcePolicy ?? undefined,
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    return { id: testCase.id, decision: 'Error', denyStatements: [], ignoredContextKeys: [], errors: response.errors }
  }
  if (response.resultType !== 'single') {
    const errors = { message: `expected one resource, got a ${response.resultType} result` }
    return { id: testCase.id, decision: 'Error', denyStatements: [], ignoredContextKeys: [], errors }
  }
  return {
    id: testCase.id,
    decision: response.overallResult,
    denyStatements: denyingStatements(response.result),
    ignoredContextKeys: response.result.ignoredContextKeys ?? [],
    errors: null,
  }
}

const input = await readStdin()
const results = []
for (const testCase of input.cases) results.push(await evaluate(testCase))
process.stdout.write(JSON.stringify({ results }))
