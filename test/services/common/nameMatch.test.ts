import { strict as assert } from 'node:assert';
import { nameQuery, namesEqual, normaliseName } from '../../../services/common/nameMatch';

describe('nameMatch', () => {
  describe('dashes', () => {
    // Every dash and hyphen someone may type or Apple may store, each between the same two words.
    const dashes: Array<[string, string]> = [
      ['hyphen-minus', '-'],
      ['hyphen', '\u2010'],
      ['non-breaking hyphen', '\u2011'],
      ['figure dash', '\u2012'],
      ['en dash', '\u2013'],
      ['em dash', '\u2014'],
      ['horizontal bar', '\u2015'],
      ['minus sign', '\u2212'],
      ['small hyphen-minus', '\uFE63'],
      ['full-width hyphen-minus', '\uFF0D'],
      ['small em dash', '\uFE58'],
      ['two-em dash', '\u2E3A'],
    ];
    for (const [name, dash] of dashes) {
      it(`reads a ${name} as a hyphen, with or without spaces around it`, () => {
        assert.ok(namesEqual(`Northwind Academy ${dash} Main Campus`, 'Northwind Academy - Main Campus'));
        assert.ok(namesEqual(`Northwind Academy${dash}Main Campus`, 'northwind academy - main campus'));
      });
    }

    it('finds the en-dash location from the hyphen typed', () => {
      assert.ok(nameQuery('Northwind Academy - Main Campus').equals('Northwind Academy – Main Campus'));
      assert.ok(nameQuery('academy-main').within('Northwind Academy – Main Campus'));
    });

    it('ignores a soft hyphen and zero-width characters inside a word', () => {
      assert.ok(namesEqual('North\u00ADwind', 'Northwind'));
      assert.ok(namesEqual('North\u200Bwind\u200D', 'Northwind'));
    });

    it('keeps a dash apart from a space: "Year 7-A" is not "Year 7 A"', () => {
      assert.ok(!namesEqual('Year 7-A', 'Year 7 A'));
    });
  });

  describe('accents', () => {
    it('matches letters with and without accents, composed or decomposed', () => {
      assert.ok(namesEqual('josé', 'jose'));
      assert.ok(namesEqual('Jose\u0301', 'JOSÉ'));
      assert.ok(namesEqual('Les Misérables', 'les miserables'));
      assert.ok(nameQuery('crepe').within('La Crêpe Française'));
      assert.ok(nameQuery('zoe').within('Zoë and the Łódź trip'));
    });

    it('reads letters with a stroke, and æ and œ, as the plain letters people type', () => {
      assert.ok(namesEqual('Łódź', 'lodz'));
      assert.ok(namesEqual('Ærø Skole', 'aero skole'));
      assert.ok(namesEqual('Œuvres', 'oeuvres'));
    });

    it('reads full-width letters and ligatures as the plain ones', () => {
      assert.ok(namesEqual('ＮＯＲＴＨＷＩＮＤ', 'northwind'));
      assert.ok(namesEqual('The ﬁrst book', 'the first book'));
    });
  });

  describe('case', () => {
    it('folds case, including letters whose capital is two letters', () => {
      assert.equal(normaliseName('NORTHWIND Academy'), 'northwind academy');
      assert.ok(namesEqual('Straße', 'STRASSE'));
      assert.ok(namesEqual('ΟΔΟΣ', 'οδος'));
    });
  });

  describe('spaces', () => {
    it('reads every run of spaces, tabs, line breaks and no-break spaces as one space, and none at the ends', () => {
      assert.equal(normaliseName('  Northwind \t Academy\u00A0\u00A0Main\nCampus  '), 'northwind academy main campus');
      assert.ok(namesEqual('Northwind\u3000Academy', 'Northwind Academy'));
    });

    it('does not join words: "Northwind Academy" is not "NorthwindAcademy"', () => {
      assert.ok(!namesEqual('Northwind Academy', 'NorthwindAcademy'));
    });
  });

  describe('quotes', () => {
    it('reads curly apostrophes and quotes as straight ones', () => {
      assert.ok(namesEqual('St Mary’s', "St Mary's"));
      assert.ok(namesEqual('“Hello”', '"hello"'));
    });
  });

  describe('nameQuery', () => {
    it('tells equal from contained, over several names, skipping absent ones', () => {
      const query = nameQuery(' swift ');
      assert.equal(query.normalised, 'swift');
      assert.ok(query.equals(undefined, 'Swift'));
      assert.ok(!query.equals('The Swift Programming Language'));
      assert.ok(query.within(undefined, 'The Swift Programming Language'));
      assert.ok(!query.within(undefined, 'Moby Dick'));
    });

    it('finds everything with an empty query and equals nothing', () => {
      const query = nameQuery('   ');
      assert.equal(query.normalised, '');
      assert.ok(query.within('Moby Dick'));
      assert.ok(!query.equals('Moby Dick'));
    });
  });
});
