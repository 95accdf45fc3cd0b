import { isLiaisonError } from '../../services/sdk/errors.ts';
import { parsePolicy, type PolicyIssue, type TypeCatalog } from '../../services/sdk/policy/index.ts';
import { typeCatalogFromList } from './catalogue-list.ts';

/**
 * The issues `parsePolicy` reports for `text` read as `file` (the `details.errors` of its ERR_POLICY_INVALID), or []
 * when it accepts the policy; any other error is rethrown, so an untyped throw fails the test.
 */
export function policyIssuesOf(text: string, file: string, catalog: TypeCatalog = typeCatalogFromList()): PolicyIssue[] {
  try {
    parsePolicy(text, { file, catalog });
  } catch (err) {
    if (isLiaisonError(err, 'ERR_POLICY_INVALID')) return (err.details.errors as PolicyIssue[]) ?? [];
    throw err;
  }
  return [];
}
