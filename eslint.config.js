// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'dist/', 'reports/', '.tmp/'] },
  eslint.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The local Lambda runtime's bootstrap is CommonJS, as the Node runtime's own is.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: [
      'shared/**/*.ts',
      'lambdas/**/*.ts',
      'host/**/*.ts',
      'local/**/*.ts',
      'cli/**/*.ts',
      'cdk/**/*.ts',
    ],
    rules: {
      // The functions are minified, which renames classes: a name read from a class is a letter or two
      // in AWS. Error names are the state machine's contract, so each error class states its own.
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.type='MetaProperty'][property.name='name']",
          message: 'new.target.name is minified away; give the class a literal `name`.',
        },
        {
          selector: "MemberExpression[object.property.name='constructor'][property.name='name']",
          message: 'constructor.name is minified away; give the class a literal `name`.',
        },
        {
          selector: "MemberExpression[object.name=/^[A-Z]\\w*Error$/][property.name='name']",
          message: "A class's own name is minified away; compare with the error's literal name.",
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // A focused or skipped test silently shrinks the suite.
      'no-restricted-properties': [
        'error',
        { object: 'it', property: 'only' },
        { object: 'it', property: 'skip' },
        { object: 'describe', property: 'only' },
        { object: 'describe', property: 'skip' },
        { object: 'test', property: 'only' },
        { object: 'test', property: 'skip' },
      ],
    },
  },
);
