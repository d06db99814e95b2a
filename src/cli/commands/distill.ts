/**
 * `lmforge distill TEACHER --out STUDENT`: train a student (the model flags of `train`) on
 * the teacher's tokenizer to match the teacher's softened next-token distribution plus the
 * data's next token (src/train/objectives/distill.ts): alpha * T^2 * KL + (1 - alpha) * CE.
 * The student is a run folder like train's (checkpoints, --resume, --force), usable as a
 * `generate --draft`. Each evaluation reports the student's greedy agreement with the teacher
 * on held-out blocks (`val_agreement`) and the KL at T = 1 (`val_kl`); --json's last line adds
 * them to train's summary.
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import {
  DistillObjective,
  defaultDistillSettings,
  inspectRunFolder,
  readTrainerState,
} from '../../train/index.js';
import { ConfigError } from '../../util/errors.js';
import { applyComputeOptions } from '../compute-options.js';
import { loadModelWithTokenizer } from '../load-model.js';
import { real } from '../parse-number.js';
import { tokenData } from '../train-archs.js';
import { runTraining } from '../train-run.js';
import { addTrainFlags, reportTraining, trainRequestOf, type TrainFlags } from './train.js';

interface DistillFlags extends TrainFlags {
  temperature?: number;
  alpha?: number;
}

/** The recorded value of a resumed run's recipe, when the flag is not given again. */
async function recordedRecipe(flags: DistillFlags): Promise<Readonly<Record<string, unknown>>> {
  if (flags.resume !== true || (await inspectRunFolder(flags.out)) !== 'run') return {};
  return (await readTrainerState(flags.out)).data.recipe ?? {};
}

export function distillCommand(): Command {
  const command = addTrainFlags(
    new Command('distill').argument(
      '<teacher>',
      "the teacher model folder (its tokenizer becomes the student's)",
    ),
    'distill',
  )
    .option(
      '--temperature <t>',
      `softening temperature of the KL term (default ${defaultDistillSettings.temperature})`,
      real({ above: 0 }),
    )
    .option(
      '--alpha <x>',
      `weight of the KL term; 1 - alpha weighs the next-token loss (default ${defaultDistillSettings.alpha})`,
      real({ min: 0, max: 1 }),
    );
  return command.action(async (teacherDir: string, flags: DistillFlags, self: Command) => {
    const backend = applyComputeOptions(flags);
    const teacher = await loadModelWithTokenizer(teacherDir);
    try {
      if (teacher.tokenizerPath === null) {
        throw new ConfigError('the teacher must be a model folder with a tokenizer.json', {
          where: teacherDir,
          hint: "the student is trained and saved with the teacher tokenizer; a .gguf file stores llama.cpp's instead",
        });
      }
      const recorded = await recordedRecipe(flags);
      const temperature =
        flags.temperature ??
        (recorded['temperature'] as number | undefined) ??
        defaultDistillSettings.temperature;
      const alpha = flags.alpha ?? (recorded['alpha'] as number | undefined) ?? defaultDistillSettings.alpha;
      const teacherPath = resolve(teacherDir);
      const outcome = await runTraining({
        ...trainRequestOf({ ...flags, tokenizer: teacherPath }, self),
        tokenizer: teacherPath,
        variant: {
          vocabSize: teacher.model.vocabSize,
          recipe: { command: 'distill', teacher: teacherPath, temperature, alpha },
          objective: (data, options) => {
            const { train, val } = tokenData(data);
            return new DistillObjective(
              teacher.model,
              { train, val, blockSize: options.blockSize, batchSize: options.batchSize },
              { temperature, alpha },
            );
          },
        },
      });
      reportTraining(flags, outcome, backend);
    } finally {
      teacher.model.dispose();
    }
  });
}
