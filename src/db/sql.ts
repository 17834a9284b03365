/**
 * Placeholders numbered by the statement that uses them, not by hand.
 *
 * Contract: a `Params` collects the values of one statement; `p.add(value)`
 * appends a value and returns its placeholder (`$1`, `$2`, …) with an
 * optional cast, so a fragment shared by several statements (the build
 * filter) can be spliced anywhere without renumbering its neighbours. Values
 * always travel as parameters; nothing is ever interpolated into the text.
 * Why not a library (pg-sql2, slonik): see docs/decisions.md.
 */

/** The values of one statement and the placeholders that name them. */
export class Params {
  readonly values: unknown[] = [];

  /** Appends `value`; returns its placeholder, e.g. `$3::int`. */
  add(value: unknown, cast?: string): string {
    this.values.push(value);
    return `$${this.values.length}${cast ? `::${cast}` : ''}`;
  }
}
