// Creates a namespace, reports its name and waits to be terminated (see netns.test.ts).
import { createNamespace } from '../../src/index.js';

const name = await createNamespace('pgo');
process.stdout.write(`${name}\n`);
setInterval(() => {}, 1000);
