import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import vue from 'eslint-plugin-vue'
import globals from 'globals'

const noElectron = { name: 'electron', message: 'Only src/main/app and src/preload may import electron.' }
const mainPatterns = {
  group: ['**/main/**', '@main/*'],
  message: 'The renderer and shared code never import from src/main.',
}
// The organism (world generator, trainer, model card) consumes the engine; the app never trains.
const organismPatterns = {
  group: ['**/organism/**', '**/organism'],
  message:
    'Only scripts and tests import src/organism: the app, engine, renderer and shared code never train.',
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'out/**', 'dist/**', 'resources/**', 'test-output/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    files: ['**/*.{ts,js,mjs,vue}'],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'vue/multi-word-component-names': 'off',
      // Prettier lays out templates; vue's layout rules would fight it.
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/multiline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/html-indent': 'off',
      'vue/html-closing-bracket-newline': 'off',
    },
  },
  {
    files: ['src/main/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [organismPatterns] }] },
  },
  {
    files: ['src/main/core/**', 'src/main/server/**', 'src/main/cli/**', 'src/main/supervision/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [noElectron], patterns: [organismPatterns] }] },
  },
  {
    files: ['src/organism/**', 'test/**', 'scripts/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [noElectron] }] },
  },
  {
    files: ['src/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [
            mainPatterns,
            organismPatterns,
            { group: ['node:*'], message: 'src/shared is pure TypeScript.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': ['error', { paths: [noElectron], patterns: [mainPatterns, organismPatterns] }],
    },
  },
)
