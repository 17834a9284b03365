/**
 * Object references of Hydra's row types, declared before they are
 * implemented so that mutually referring types (a Build's jobset, a Jobset's
 * project…) can point at each other across modules without import cycles.
 */
import type { Loaded } from '../../hydra/loaders.js';
import type { Build, BuildOutput, BuildStep, Evaluation, Jobset, Project } from '../../hydra/rows.js';
import { builder } from '../builder.js';

export const ProjectRef = builder.objectRef<Loaded<Project>>('Project');
export const JobsetRef = builder.objectRef<Loaded<Jobset>>('Jobset');
export const EvaluationRef = builder.objectRef<Loaded<Evaluation>>('Evaluation');
export const BuildRef = builder.objectRef<Loaded<Build>>('Build');
export const BuildStepRef = builder.objectRef<Loaded<BuildStep>>('BuildStep');
export const BuildOutputRef = builder.objectRef<Loaded<BuildOutput>>('BuildOutput');
