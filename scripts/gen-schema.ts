/** npm run config:schema — regenerates config/schema.json from the zod schema. */
import { writeFileSync } from 'node:fs';
import { configJsonSchemaText } from '../src/config/json-schema.js';

writeFileSync(new URL('../config/schema.json', import.meta.url), configJsonSchemaText());
process.stdout.write('wrote config/schema.json\n');
