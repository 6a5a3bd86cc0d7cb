# The paper's figures, one job each, drawn from the result tables by srhm.figures. Only the figures
# named in config["figures"] are built; `snakemake fig04` builds one (an alias rule per figure).
# A figure takes seconds to draw from small tables, so it runs where Snakemake runs (localrule),
# not as a cluster job.

FIGURE_FORMATS = ("pdf", "png", "md")
FIGURES = config["figures"]


rule figure:
    input:
        tables=figure_inputs,
        code=figure_code,
    output:
        pdf=f"{RESULTS}/{paths.figure('{fig}', 'pdf')}",
        png=report(f"{RESULTS}/{paths.figure('{fig}', 'png')}", caption="../report/figure.rst", category="Figures",
                   labels={"figure": "{fig}", "file": "figure"}),
        md=report(f"{RESULTS}/{paths.figure('{fig}', 'md')}", category="Figures",
                  labels={"figure": "{fig}", "file": "notes on the data"}),
    params:
        settings=lambda wildcards: json.dumps(FIGURES[wildcards.fig]),
        caption=lambda wildcards: figure_module(wildcards.fig).CAPTION,
        results=lambda wildcards, output: Path(output.pdf).parent.parent,
    log:
        f"{RESULTS}/{paths.log('figures', '{fig}')}",
    wildcard_constraints:
        fig="|".join(FIGURES) or "(?!)",
    localrule: True
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/srhm.yaml"
    shell:
        "python -m srhm figure {wildcards.fig} --settings {params.settings:q} --results {params.results} --out {output.pdf} > {log} 2>&1"


for figure_name in FIGURES:

    rule:
        name:
            figure_name
        input:
            [f"{RESULTS}/{paths.figure(figure_name, extension)}" for extension in FIGURE_FORMATS],
            experiment_outputs(figure_experiments(figure_name, FIGURES[figure_name])),
        localrule: True
