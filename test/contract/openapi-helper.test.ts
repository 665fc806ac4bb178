import { describe, expect, it } from 'vitest';
import { OpenApiContract, SPEC_CORRECTIONS, toJsonSchema } from '../helpers/openapi.js';

describe('OpenAPI contract helper', () => {
  const contract = OpenApiContract.load();

  it('translates OpenAPI 3.0 nullable and drops OpenAPI-only keywords', () => {
    expect(toJsonSchema({ type: 'string', nullable: true, example: 'x', readOnly: true })).toEqual({
      type: ['string', 'null'],
    });
    expect(toJsonSchema({ $ref: '#/components/schemas/A', nullable: true })).toEqual({
      anyOf: [{ $ref: '#/components/schemas/A' }, { type: 'null' }],
    });
    expect(toJsonSchema({ enum: ['a'], type: 'string', nullable: true })).toEqual({
      enum: ['a', null],
      type: ['string', 'null'],
    });
    expect(toJsonSchema({ $ref: '#/components/schemas/A', description: 'd' })).toEqual({
      allOf: [{ $ref: '#/components/schemas/A' }, { description: 'd' }],
    });
    // A property literally called "example" is a property, not the keyword.
    expect(toJsonSchema({ type: 'object', properties: { example: { type: 'string' } } })).toEqual({
      type: 'object',
      properties: { example: { type: 'string' } },
    });
  });

  it('matches concrete paths to templates, literal segments first', () => {
    expect(contract.findTemplate('POST', '/rest/api/3/issue/bulk')).toBe('/rest/api/3/issue/bulk');
    expect(contract.findTemplate('GET', '/rest/api/3/issue/SEC-1?expand=changelog')).toBe(
      '/rest/api/3/issue/{issueIdOrKey}',
    );
    expect(contract.findTemplate('GET', '/rest/api/3/issue/createmeta/SEC/issuetypes/10001')).toBe(
      '/rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}',
    );
    expect(contract.findTemplate('PATCH', '/rest/api/3/issue/SEC-1')).toBeUndefined();
  });

  it('validates responses by status, resolving $refs into components', () => {
    const issue = { id: '10001', key: 'SEC-1', self: 'https://x.example/rest/api/3/issue/10001', fields: {} };
    expect(contract.validateResponse('GET', '/rest/api/3/issue/SEC-1', 200, issue).ok).toBe(true);
    const wrong = contract.validateResponse('GET', '/rest/api/3/issue/SEC-1', 200, { ...issue, fields: [] });
    expect(wrong.ok).toBe(false);
    expect(wrong.errors.join()).toMatch(/fields/);
    const undocumented = contract.validateResponse('GET', '/rest/api/3/issue/SEC-1', 418, {});
    expect(undocumented.ok).toBe(false);
    expect(undocumented.errors[0]).toMatch(/status 418 is not documented/);
  });

  it('applies the documented spec corrections, each with a reason', () => {
    expect(SPEC_CORRECTIONS.every((c) => c.reason.length > 20)).toBe(true);
    const page = {
      values: [
        {
          id: '1',
          items: [{ field: 'summary', fieldtype: 'jira', from: null, fromString: 'a', to: null, toString: 'b' }],
        },
      ],
    };
    expect(contract.validateResponse('GET', '/rest/api/3/issue/SEC-1/changelog', 200, page).errors).toEqual([]);
    const raw = new OpenApiContract(
      JSON.parse(JSON.stringify({ openapi: '3.0.1', paths: {}, components: { schemas: {} } })) as Record<string, never>,
      [],
    );
    expect(raw.operations()).toEqual([]);
  });
});
