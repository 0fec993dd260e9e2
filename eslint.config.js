// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  { files: ["eslint.config.js", ".dependency-cruiser.cjs"], ...tseslint.configs.disableTypeChecked },
  // dependency-cruiser reads its configuration as CommonJS.
  { files: [".dependency-cruiser.cjs"], languageOptions: { sourceType: "commonjs", globals: { module: "writable" } } },
);
